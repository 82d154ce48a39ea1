# ruff: noqa: RUF001 (text in many scripts, on purpose)
from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from document_processing.extractors.base import ExtractionError, ExtractionLimits
from document_processing.extractors.text import MarkdownExtractor, TextExtractor
from document_processing.markdown import markdown_to_text, render_markdown

LIMITS = ExtractionLimits()


def _write(tmp_path: Path, content: str | bytes, name: str = "doc") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


# -- Markdown -------------------------------------------------------------------------------------


def test_markdown_pages_at_top_level_headings(tmp_path: Path) -> None:
    path = _write(tmp_path, "# Book\n\nIntro.\n\n# Chapter 2\n\n## Part\n\nText.\n")

    result = MarkdownExtractor().extract(path, limits=LIMITS)

    assert [page.title for page in result.pages] == ["Book", "Chapter 2"]
    assert result.pages[1].markdown == "# Chapter 2\n\n## Part\n\nText."
    assert result.title == "Book"
    assert result.author == ""


def test_markdown_front_matter_gives_the_title(tmp_path: Path) -> None:
    path = _write(tmp_path, '---\ntitle: "Front Title"\ntags: [a]\n---\nBody only.\n')

    result = MarkdownExtractor().extract(path, limits=LIMITS)

    assert result.title == "Front Title"
    assert [page.markdown for page in result.pages] == ["Body only."]
    assert result.pages[0].title == "Front Title"


def test_markdown_respects_the_page_cap(tmp_path: Path) -> None:
    path = _write(tmp_path, "# Long\n\n" + "A sentence of words. " * 200)

    result = MarkdownExtractor().extract(path, limits=ExtractionLimits(page_max_chars=500))

    assert len(result.pages) > 1
    assert all(len(page.markdown) <= 500 for page in result.pages)
    # The heading names the first page; `extraction` names the rest by their first words.
    assert [page.title for page in result.pages] == ["Long"] + [""] * (len(result.pages) - 1)


def test_markdown_normalises_newlines_and_drops_controls(tmp_path: Path) -> None:
    path = _write(tmp_path, "# A\r\n\r\nText\x07 here\x00.\r\n")

    result = MarkdownExtractor().extract(path, limits=LIMITS)

    assert result.pages[0].markdown == "# A\n\nText here."


# -- Plain text --------------------------------------------------------------------------------


def test_text_renders_as_written(tmp_path: Path) -> None:
    text = "# not a heading\n1. not a list\n*not emphasis* <b>not html</b> [no](link) a|b"
    path = _write(tmp_path, text)

    result = TextExtractor().extract(path, limits=LIMITS)

    assert len(result.pages) == 1
    html = render_markdown(result.pages[0].markdown)
    assert "<h1>" not in html
    assert "<ol>" not in html
    assert "<em>" not in html
    assert "&lt;b&gt;" in html
    assert markdown_to_text(result.pages[0].markdown) == " ".join(text.split())


def test_text_has_no_headings_so_it_splits_only_at_the_cap(tmp_path: Path) -> None:
    paragraphs = "\n\n".join(f"Paragraph {i} has some words in it." for i in range(100))
    path = _write(tmp_path, paragraphs)

    result = TextExtractor().extract(path, limits=ExtractionLimits(page_max_chars=400))

    assert len(result.pages) > 1
    assert all(len(page.markdown) <= 400 for page in result.pages)
    assert all(page.title == "" for page in result.pages)
    assert result.pages[0].markdown.startswith("Paragraph 0 has")


def test_text_form_feed_is_a_paragraph_break(tmp_path: Path) -> None:
    path = _write(tmp_path, "Page one.\fPage two.")

    result = TextExtractor().extract(path, limits=LIMITS)

    assert markdown_to_text(result.pages[0].markdown) == "Page one.\n\nPage two."


@pytest.mark.parametrize(
    "data",
    [
        codecs.BOM_UTF8 + "Grüße".encode(),
        "Grüße".encode("utf-16"),
        codecs.BOM_UTF16_BE + "Grüße".encode("utf-16-be"),
    ],
)
def test_text_encodings(tmp_path: Path, data: bytes) -> None:
    result = TextExtractor().extract(_write(tmp_path, data), limits=LIMITS)

    assert result.pages[0].markdown == "Grüße"
    assert result.notes == []


def test_text_that_is_not_utf8_is_read_as_windows_1252(tmp_path: Path) -> None:
    path = _write(tmp_path, "Café \u2013 déjà".encode("cp1252"))

    result = TextExtractor().extract(path, limits=LIMITS)

    assert result.pages[0].markdown == "Café \u2013 déjà"
    assert result.notes == [
        "This file does not say how its characters are encoded; it was read as Windows-1252."
    ]


_LEGACY = {
    "cp1251": "Все счастливые семьи похожи друг на друга, каждая несчастливая семья несчастлива "
    "по-своему. Все смешалось в доме Облонских.",
    "shift_jis": "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗い"
    "じめじめした所でニャーニャー泣いていた事だけは記憶している。",
    "euc_kr": "모든 인간은 태어날 때부터 자유로우며 그 존엄과 권리에 있어 동등하다. 인간은 "
    "천부적으로 이성과 양심을 부여받았으며 서로 형제애의 정신으로 행동하여야 한다.",
    "gb2312": "人人生而自由，在尊严和权利上一律平等。他们赋有理性和良心，并应以兄弟关系的"
    "精神相对待。",
    "iso-8859-7": "Στην αρχή ήταν ο Λόγος, και ο Λόγος ήταν με τον Θεό, και Θεός ήταν ο Λόγος. "
    "Αυτός ήταν στην αρχή με τον Θεό. Όλα έγιναν μέσω αυτού.",
}


@pytest.mark.parametrize(
    ("encoding", "name"),
    [
        ("cp1251", "Windows-1251"),
        ("shift_jis", "Shift_JIS"),
        ("euc_kr", "EUC-KR"),
        ("gb2312", "GB18030"),
        ("iso-8859-7", "Windows-1253"),
    ],
)
def test_legacy_encodings_are_detected(tmp_path: Path, encoding: str, name: str) -> None:
    path = _write(tmp_path, _LEGACY[encoding].encode(encoding))

    result = TextExtractor().extract(path, limits=LIMITS)

    assert markdown_to_text(result.pages[0].markdown) == _LEGACY[encoding]
    # Windows-1253 reads this Greek as ISO-8859-7 does; GB18030 is a superset of GB2312.
    assert result.notes == [
        f"This file does not say how its characters are encoded; it was read as {name}."
    ]


def test_undecodable_bytes_are_replaced_with_a_note(tmp_path: Path) -> None:
    path = _write(tmp_path, codecs.BOM_UTF8 + b"Broken \xff byte.")

    result = TextExtractor().extract(path, limits=LIMITS)

    assert result.pages[0].markdown == "Broken \ufffd byte."
    assert result.notes == ["Some characters could not be decoded and were replaced."]


# -- limits and bad input ------------------------------------------------------------------------


@pytest.mark.parametrize("extractor", [MarkdownExtractor(), TextExtractor()])
@pytest.mark.parametrize("content", [b"", b"   \n\n\t  ", codecs.BOM_UTF8])
def test_empty_files(tmp_path: Path, extractor: TextExtractor, content: bytes) -> None:
    with pytest.raises(ExtractionError) as caught:
        extractor.extract(_write(tmp_path, content), limits=LIMITS)

    assert caught.value.code == "empty"
    assert caught.value.user_message == "This file contains no readable text."


@pytest.mark.parametrize("extractor", [MarkdownExtractor(), TextExtractor()])
def test_too_much_text(tmp_path: Path, extractor: TextExtractor) -> None:
    path = _write(tmp_path, "word " * 1000)

    with pytest.raises(ExtractionError) as caught:
        extractor.extract(path, limits=ExtractionLimits(max_chars=1000))

    assert caught.value.code == "too_large"


@pytest.mark.parametrize("extractor", [MarkdownExtractor(), TextExtractor()])
def test_file_far_too_large_is_not_read_whole(tmp_path: Path, extractor: TextExtractor) -> None:
    path = _write(tmp_path, b"x" * 50_000)

    with pytest.raises(ExtractionError) as caught:
        extractor.extract(path, limits=ExtractionLimits(max_chars=1000))

    assert caught.value.code == "too_large"


def test_too_many_pages(tmp_path: Path) -> None:
    path = _write(tmp_path, "".join(f"# H{i}\n\ntext\n\n" for i in range(10)))

    with pytest.raises(ExtractionError) as caught:
        MarkdownExtractor().extract(path, limits=ExtractionLimits(max_pages=5))

    assert caught.value.code == "too_many_pages"
    assert "5 pages" in caught.value.user_message


def test_missing_file_is_an_extraction_error(tmp_path: Path) -> None:
    with pytest.raises(ExtractionError):
        TextExtractor().extract(tmp_path / "missing.txt", limits=LIMITS)


def test_extractors_have_their_registry_names() -> None:
    assert MarkdownExtractor.name == "markdown"
    assert TextExtractor.name == "text"
