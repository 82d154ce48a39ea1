"""Running headers and footers dropped from a PDF (`pdf.running`)."""

from __future__ import annotations

from pathlib import Path

from document_processing.tests.extractors import pdf_samples as samples
from document_processing.tests.extractors.pdf.helpers import _extract


def test_running_header_and_page_footer_are_dropped(tmp_path: Path) -> None:
    result = _extract(tmp_path, samples.report_pdf(6))

    text = "\n".join(page.markdown for page in result.pages)
    assert samples.RUNNING_HEADER not in text
    assert "Page 3 of 6" not in text
    assert "of 6" not in text


def test_running_headers_that_alternate_between_pages_are_dropped(tmp_path: Path) -> None:
    body = samples.report_pages(8)
    running = ["The Book Title", "Chapter One: Beginnings"]
    pages = [[running[number % 2], *paragraphs] for number, paragraphs in enumerate(body)]

    result = _extract(tmp_path, samples.pdf_bytes(pages))

    assert [page.markdown for page in result.pages] == ["\n\n".join(page) for page in body]


def test_each_chapters_running_title_is_dropped(tmp_path: Path) -> None:
    # Neither title is on most pages, but each runs over several pages in a row.
    body = samples.report_pages(9)
    titles = ["Chapter 1: Beginnings {page}"] * 4 + ["Chapter 2: The Long Middle Part {page}"] * 5
    pages = [
        [title.format(page=number), *paragraphs]
        for number, (title, paragraphs) in enumerate(zip(titles, body, strict=True), start=1)
    ]

    result = _extract(tmp_path, samples.pdf_bytes(pages))

    assert [page.markdown for page in result.pages] == ["\n\n".join(page) for page in body]


def test_short_documents_keep_their_first_and_last_lines(tmp_path: Path) -> None:
    # Three pages are too few to tell a running header from text that happens to repeat.
    result = _extract(tmp_path, samples.report_pdf(3))

    assert all(page.markdown.startswith(samples.RUNNING_HEADER) for page in result.pages)
