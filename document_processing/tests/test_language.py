"""Detecting the language of pages and documents, and the tags people may give."""

# The sentences are in the scripts of their languages, whose letters look like Latin ones.
# ruff: noqa: RUF001

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import pytest

from document_processing import extraction
from document_processing import language as detection
from document_processing.language import (
    DETECTOR_LANGUAGES,
    FIRST_SAMPLE_CHARS,
    Detection,
    detect,
    document_languages,
    honour_declared,
    is_known,
    normalise,
    text_direction,
)
from document_processing.tests.extractors.samples import Chapter, opf_xml, write_epub

# Real sentences, as people wrote them: Article 1 of the Universal Declaration of Human Rights
# in its official translations, and the first lines of well-known novels.
SENTENCES = [
    ("en", "All human beings are born free and equal in dignity and rights."),
    ("en", "It was the best of times, it was the worst of times."),
    ("fr", "Tous les êtres humains naissent libres et égaux en dignité et en droits."),
    ("fr", "Longtemps, je me suis couché de bonne heure."),
    ("de", "Alle Menschen sind frei und gleich an Würde und Rechten geboren."),
    ("de", "Als Gregor Samsa eines Morgens aus unruhigen Träumen erwachte."),
    ("es", "Todos los seres humanos nacen libres e iguales en dignidad y derechos."),
    ("es", "En un lugar de la Mancha, de cuyo nombre no quiero acordarme."),
    ("it", "Nel mezzo del cammin di nostra vita mi ritrovai per una selva oscura."),
    ("pt", "Todos os seres humanos nascem livres e iguais em dignidade e em direitos."),
    ("ar", "يولد جميع الناس أحرارًا متساوين في الكرامة والحقوق."),
    ("fa", "تمام افراد بشر آزاد به دنیا می‌آیند و از لحاظ حیثیت و حقوق با هم برابرند."),
    ("he", "כל בני האדם נולדו בני חורין ושווים בערכם ובזכויותיהם."),
    ("ru", "Все люди рождаются свободными и равными в своем достоинстве и правах."),
    (
        "ru",
        "Все счастливые семьи похожи друг на друга, каждая несчастливая семья несчастлива "
        "по-своему.",
    ),
    ("uk", "Усі люди народжуються вільними і рівними у своїй гідності та правах."),
    ("ja", "吾輩は猫である。名前はまだ無い。"),
    ("ja", "すべての人間は、生まれながらにして自由であり、かつ、尊厳と権利とについて平等である。"),
    ("zh", "人人生而自由，在尊严和权利上一律平等。"),
    ("zh", "我家门前有两棵树。"),
    ("ko", "모든 인간은 태어날 때부터 자유로우며 그 존엄과 권리에 있어 동등하다."),
    ("hi", "सभी मनुष्यों को गौरव और अधिकारों के मामले में जन्मजात स्वतन्त्रता और समानता प्राप्त है।"),
    ("el", "Όλοι οι άνθρωποι γεννιούνται ελεύθεροι και ίσοι στην αξιοπρέπεια και τα δικαιώματα."),
    ("tr", "Bütün insanlar hür, haysiyet ve haklar bakımından eşit doğarlar."),
]


@pytest.mark.parametrize(("language", "text"), SENTENCES)
def test_one_sentence_is_enough_to_tell_its_language(language: str, text: str) -> None:
    found = detect(text)
    assert found.language == language
    assert found.confidence >= 0.5


@pytest.mark.parametrize("text", ["", "   ", "12:30 - 45", "OK", "第一章", "ISBN 978-3-16"])
def test_a_text_that_says_too_little_has_no_language(text: str) -> None:
    assert detect(text).language == ""


ARABIC = (
    "يولد جميع الناس أحرارًا متساوين في الكرامة والحقوق. وقد وهبوا عقلاً وضميرًا وعليهم أن "
    "يعامل بعضهم بعضًا بروح الإخاء."
)
ENGLISH = (
    "All human beings are born free and equal in dignity and rights. They are endowed with "
    "reason and conscience and should act towards one another in a spirit of brotherhood."
)


def test_a_document_is_in_the_language_of_most_of_its_text() -> None:
    language, pages = document_languages([ARABIC, "1", ARABIC, ENGLISH, ARABIC])
    assert language == "ar"
    # The page that says nothing takes the document's language; the English one keeps its own.
    assert pages == ["ar", "ar", "ar", "en", "ar"]


def test_pages_too_short_alone_decide_together() -> None:
    language, pages = document_languages(["Где вокзал?", "Поезд отправляется в восемь."])
    assert language == "ru"
    assert pages == ["ru", "ru"]


def test_a_page_whose_first_lines_leave_a_doubt_is_told_by_more_of_it() -> None:
    figures = "Tableau 1. " + " ".join(f"{n}.{n % 7}" for n in range(100, 180))
    french = (
        "Longtemps, je me suis couché de bonne heure. Parfois, à peine ma bougie éteinte, mes "
        "yeux se fermaient si vite que je n'avais pas le temps de me dire : « Je m'endors. » "
    )
    page = figures + " " + french * 4
    assert len(figures) > FIRST_SAMPLE_CHARS

    assert detect(page).language == "fr"


def test_a_document_of_nothing_but_numbers_has_no_language() -> None:
    assert document_languages(["1", "2", "3"]) == ("", ["", "", ""])


def _by_ranking(sample: str) -> Detection:
    """The language of `sample` as ranking every label of the model (varieties folded) tells
    it: what detection gives, however it gets there."""
    if not detection._says_enough(sample):
        return Detection("", 0.0)
    scores = dict(detection._identifier().rank(sample))
    for variety, folded in detection._FOLDED.items():
        if variety in scores:
            scores[folded] = scores.get(folded, 0.0) + scores.pop(variety)
    label = max(scores, key=scores.__getitem__)
    if label in detection._NONE or scores[label] < detection.MIN_CONFIDENCE:
        return Detection("", float(scores[label]))
    return Detection(label, float(scores[label]))


MIXED = [
    ENGLISH[:60] + " " + ARABIC[:60],
    "Tableau 1. " + " ".join(f"{n}.{n % 7}" for n in range(100, 140)),
    "Where is the station? Где вокзал? Où est la gare?",
    "Mañana, Paris, Berlin, Roma, London, Praha, Wien.",
    "中文 English 日本語 한국어 العربية",
]


@pytest.mark.parametrize("text", [text for _, text in SENTENCES] + [ARABIC, ENGLISH, *MIXED])
def test_detection_gives_the_answer_of_ranking_every_language(text: str) -> None:
    for sample in (text, text[: len(text) // 2], text[:24]):
        assert detection._detect_sample(sample) == _by_ranking(sample)


def test_a_sure_answer_needs_no_ranking_of_every_language(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _by_ranking(ENGLISH)
    assert expected.language == "en"

    def no_ranking(*args: object) -> NoReturn:
        raise AssertionError("ranked every language")

    monkeypatch.setattr(type(detection._identifier()), "rank", no_ranking)

    assert detect(ENGLISH) == expected


@pytest.mark.parametrize(
    ("declared", "detected", "kept"),
    [
        ("pt-BR", "pt", "pt-BR"),  # the same language: its region is kept
        ("pt_br", "pt", "pt-BR"),
        ("fr", "", "fr"),  # nothing detected: the declaration stands
        ("en", "ar", "ar"),  # a template's default "en" over Arabic text: detection wins
        ("xx-YY", "de", "de"),  # no language Pagecast knows
        ("", "de", "de"),
    ],
)
def test_a_declared_language_is_honoured_unless_the_text_says_otherwise(
    declared: str, detected: str, kept: str
) -> None:
    assert honour_declared(declared, detected) == kept


@pytest.mark.parametrize(
    ("tag", "spelled"),
    [
        ("EN_us", "en-US"),
        ("zh-hant", "zh-Hant"),
        ("sr-latn-rs", "sr-Latn-RS"),
        ("es-419", "es-419"),
        ("en-US-u-ca-gregory", "en-US"),
        ("x-klingon", ""),
        ("123", ""),
        ("english", ""),
        ("", ""),
    ],
)
def test_tags_are_spelled_as_bcp_47_spells_them(tag: str, spelled: str) -> None:
    assert normalise(tag) == spelled


@pytest.mark.parametrize(
    ("tag", "known"),
    [("en", True), ("ar", True), ("pt-BR", True), ("zh-Hant", True), ("yue", True),
     ("xx", False), ("zxx", False), ("en-us", False), ("", False)],
)  # fmt: skip
def test_only_languages_pagecast_knows_are_accepted(tag: str, known: bool) -> None:
    assert is_known(tag) is known


@pytest.mark.parametrize(
    ("tag", "direction"),
    [("ar", "rtl"), ("ar-EG", "rtl"), ("he", "rtl"), ("fa", "rtl"), ("ur", "rtl"),
     ("yi", "rtl"), ("az-Arab", "rtl"), ("en", "ltr"), ("ja", "ltr"), ("ur-Latn", "ltr"),
     ("", "ltr"), ("nonsense tag", "ltr")],
)  # fmt: skip
def test_right_to_left_languages_and_scripts(tag: str, direction: str) -> None:
    assert text_direction(tag) == direction


def test_the_known_labels_are_the_models() -> None:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    model = LanguageIdentifier.from_model_file(MODEL_FILE)
    assert set(model.labels) == DETECTOR_LANGUAGES


def test_extraction_gives_each_page_and_the_document_a_language(tmp_path: Path) -> None:
    book = tmp_path / "book.md"
    book.write_text(
        f"# الفصل الأول\n\n{ARABIC}\n\n# الفصل الثاني\n\n{ARABIC}\n\n# Note\n\n{ENGLISH}\n",
        encoding="utf-8",
    )
    document = extraction.extract_file(book, kind="markdown")
    assert document.language == "ar"
    assert [page.language for page in document.pages] == ["ar", "ar", "en"]


PORTUGUESE = (
    "Todos os seres humanos nascem livres e iguais em dignidade e em direitos. Dotados de razão "
    "e de consciência, devem agir uns para com os outros em espírito de fraternidade."
)


def _html(tmp_path: Path, *, lang: str, body: str) -> Path:
    page = tmp_path / "page.html"
    page.write_text(
        f'<!DOCTYPE html><html lang="{lang}"><head><title>T</title></head>'
        f"<body><article><h1>Artigo 1</h1><p>{body}</p></article></body></html>",
        encoding="utf-8",
    )
    return page


def test_a_web_page_keeps_the_region_it_declares(tmp_path: Path) -> None:
    document = extraction.extract_file(_html(tmp_path, lang="pt-BR", body=PORTUGUESE), kind="html")
    assert document.language == "pt-BR"
    assert {page.language for page in document.pages} == {"pt-BR"}


def test_a_web_page_declared_english_but_written_in_arabic_is_arabic(tmp_path: Path) -> None:
    document = extraction.extract_file(_html(tmp_path, lang="en", body=ARABIC), kind="html")
    assert document.language == "ar"


def test_an_epub_keeps_the_language_its_package_declares(tmp_path: Path) -> None:
    chapters = [Chapter("one.xhtml", f"<h1>Capítulo um</h1><p>{PORTUGUESE}</p>")]
    opf = opf_xml(chapters, title="Livro", author="", nav=False, ncx=False)
    opf = opf.replace("<dc:language>en</dc:language>", "<dc:language>pt-BR</dc:language>")
    book = write_epub(
        tmp_path / "book.epub", chapters, nav=False, overrides={"OEBPS/content.opf": opf}
    )
    document = extraction.extract_file(book, kind="epub")
    assert document.language == "pt-BR"
    assert [page.language for page in document.pages] == ["pt-BR"]
