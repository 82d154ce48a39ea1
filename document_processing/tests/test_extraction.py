from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from document_processing import extraction, language
from document_processing.extraction import SpokenPages, finish, page_from_markdown
from document_processing.extractors.base import ExtractedPage, ExtractionLimits, ExtractionResult
from document_processing.extractors.isolation import run_isolated
from document_processing.extractors.pdf import PdfExtractor
from document_processing.tests.extractors import pdf_samples
from speech_processing.text import normalize_for_speech_with_sources, split_sentences

LIMITS = ExtractionLimits()
# Public projects' files (corpus/README.md), English, French, Japanese and Chinese among them.
CORPUS = Path(__file__).resolve().parent / "corpus"


def _finished(*pages: ExtractedPage) -> list[tuple[str, bool]]:
    document = finish(ExtractionResult(pages=list(pages)), limits=LIMITS)
    return [(page.title, page.contents) for page in document.pages]


def test_every_page_has_a_name_a_person_can_tell_apart() -> None:
    pages = _finished(
        ExtractedPage("Some text before.\n\n## The Heading\n\nMore."),  # its first heading
        ExtractedPage("The keeper climbed the stairs of the lighthouse as the storm rose."),
        ExtractedPage("The keeper climbed down again, slowly, one step at a time."),
        ExtractedPage("# Ignored\n\nText.", title="Named by the extractor"),
        ExtractedPage("Setext heading\n==============\n\nText."),
    )

    assert [title for title, _ in pages] == [
        "The Heading",
        "The keeper climbed the stairs of the lighthouse as the\u2026",  # 60 at most
        "The keeper climbed down again, slowly, one step at a time.",
        "Named by the extractor",
        "Setext heading",
    ]


def test_a_heading_in_a_code_block_does_not_name_the_page() -> None:
    pages = _finished(ExtractedPage("```bash\n# a comment\n```\n\nThe text of the page."))

    # Named by its first words, code included, not by the comment as a heading.
    assert pages == [("# a comment The text of the page.", False)]


def test_tables_of_contents_are_marked_by_the_extractor_or_by_their_look() -> None:
    pages = _finished(
        ExtractedPage("Links, as the book's navigation says.", contents=True),
        ExtractedPage("# Contents\n\n- One\n- Two\n- Three"),
        ExtractedPage("# One\n\nThe first chapter."),
    )

    assert [contents for _, contents in pages] == [True, True, False]


def test_a_page_written_by_a_person_is_named_the_same_way() -> None:
    assert page_from_markdown("# Mine\n\nText.", number=1).title == "Mine"
    assert page_from_markdown("Just a few words.", number=1).title == "Just a few words."


def test_read_along_highlights_the_words_of_a_table_as_the_page_shows_them() -> None:
    page = page_from_markdown(
        "# Drums\n\n| Name | Origin |\n|---|---|\n| Tabla | India |\n| Djembe | West Africa |",
        number=1,
    )
    assert page.text == (
        "Drums\n\nName: Tabla, Origin: India.\n\nName: Djembe, Origin: West Africa."
    )

    mapped = normalize_for_speech_with_sources(page.text)
    sentences = split_sentences(mapped.text)
    spans = mapped.source_spans((s.char_start, s.char_end) for s in sentences)

    # Each sentence spoken is highlighted over the very words of the page's text.
    assert [page.text[start:end] for start, end in spans] == [
        "Drums",
        "Name: Tabla, Origin: India.",
        "Name: Djembe, Origin: West Africa.",
    ]


def test_read_along_skips_what_is_not_spoken_and_keeps_the_rest_in_place() -> None:
    page = page_from_markdown(
        "A claim.[^1] See the [docs][d] {: .note }\n\n[d]: https://example.com\n\n"
        "[^1]: The source.",
        number=1,
    )
    assert page.text == "A claim. See the docs\n\nThe source."

    mapped = normalize_for_speech_with_sources(page.text)
    sentences = split_sentences(mapped.text)
    spans = mapped.source_spans((s.char_start, s.char_end) for s in sentences)

    assert [page.text[start:end] for start, end in spans] == [
        "A claim.",
        "See the docs",
        "The source.",
    ]


# --- Pages described by the children that read them --------------------------------------------


def _described(*descriptions: Any) -> ExtractionResult:
    pages = [ExtractedPage(markdown="# Rivers\n\nThe river runs to the sea.")] * len(descriptions)
    return ExtractionResult(pages=pages, descriptions=list(descriptions))


def test_pages_the_children_described_are_taken_as_they_described_them() -> None:
    document = finish(
        _described(["Told by a child", None, True, "de"], ["Second", "Spoken.", False, ""]),
        limits=LIMITS,
    )

    first, second = document.pages
    assert (first.number, first.title, first.contents) == (1, "Told by a child", True)
    assert first.markdown == first.text == "# Rivers\n\nThe river runs to the sea."
    assert first.language == "de"
    assert (second.number, second.title, second.text, second.contents) == (
        2,
        "Second",
        "Spoken.",
        False,
    )
    assert second.language == document.language == "de"  # too short to tell: the document's


@pytest.mark.parametrize(
    "description",
    [
        "not a list",
        ["Title", None, False],
        [1, None, False, "en"],
        ["Title", 2, False, "en"],
        ["Title", None, "yes", "en"],
        ["Title", None, False, None],
        ["x" * 301, None, False, "en"],
        ["Ti\x00tle", None, False, "en"],
        ["Title", "Spo\x00ken", False, "en"],
        ["Title", None, False, "not a language"],
        ["Title", None, False, "tlh"],
    ],
)
def test_a_description_no_child_would_make_is_not_used(
    description: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    told = _described(["Told", None, True, "de"], description)

    described = finish(told, limits=LIMITS)

    undescribed = finish(dataclasses.replace(told, descriptions=None), limits=LIMITS)
    assert described.pages[0].title == "Told"
    assert described.pages[1] == undescribed.pages[1]
    assert undescribed.pages[1].title == "Rivers"
    assert "1 pages were described wrongly" in caplog.text


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(CORPUS / case["path"], id=case["path"])
        for case in json.loads((CORPUS / "cases.json").read_text(encoding="utf-8"))
        if case["kind"] == "pdf"
    ],
)
def test_children_describe_the_pages_of_a_real_pdf_as_the_worker_would(path: Path) -> None:
    limits = ExtractionLimits(ocr_enabled=False)
    result = run_isolated(PdfExtractor(), path, limits=limits, workers=2, describer=SpokenPages())

    assert result.descriptions is not None
    assert finish(result, limits=limits) == finish(
        dataclasses.replace(result, descriptions=None), limits=limits
    )


def test_children_describe_the_pages_of_a_long_pdf_as_the_worker_would(tmp_path: Path) -> None:
    path = pdf_samples.write(tmp_path, pdf_samples.benchmark_pdf(40))
    result = run_isolated(PdfExtractor(), path, limits=LIMITS, workers=2, describer=SpokenPages())

    assert result.descriptions is not None
    assert [page[1] for page in result.descriptions] == [None] * 40  # prose: sent once
    assert finish(result, limits=LIMITS) == finish(
        dataclasses.replace(result, descriptions=None), limits=LIMITS
    )


def test_a_long_pdf_is_described_by_the_children_that_read_it_not_by_the_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.EXTRACTION_WORKERS = 2
    path = pdf_samples.write(tmp_path, pdf_samples.benchmark_pdf(40))
    derived_here: list[int] = []  # the children's own copies hold what they derive
    real_page_data = extraction._page_data

    def page_data(number: int, page: ExtractedPage) -> extraction.PageData:
        derived_here.append(number)
        return real_page_data(number, page)

    monkeypatch.setattr(extraction, "_page_data", page_data)

    document = extraction.extract_file(path, kind="pdf")

    assert len(document.pages) == 40
    assert document.language == "en"
    assert derived_here == []


def test_without_languages_no_page_nor_child_detects_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.EXTRACTION_WORKERS = 2
    path = pdf_samples.write(tmp_path, pdf_samples.benchmark_pdf(40))

    def refuse(*args: object) -> None:
        raise AssertionError("the language detector was used")

    # The children inherit the refusal: one that detected would fail the extraction.
    monkeypatch.setattr(language, "_identifier", refuse)

    document = extraction.extract_file(path, kind="pdf", languages=False)

    assert len(document.pages) == 40
    assert {page.language for page in document.pages} == {document.language} == {""}
