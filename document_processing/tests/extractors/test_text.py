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
    assert all(page.title == "Long" for page in result.pages)


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
    assert result.notes


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
