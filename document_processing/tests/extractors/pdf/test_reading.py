"""Reading a PDF's pages in order, and two-column layouts (`pdf.reading`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest

from document_processing.extractors.base import ExtractionLimits
from document_processing.extractors.pdf import reading as pdf_reading
from document_processing.tests.extractors import pdf_samples as samples
from document_processing.tests.extractors.pdf.helpers import _error, _extract


@pytest.mark.parametrize("row_by_row", [True, False], ids=["drawn-row-by-row", "drawn-by-column"])
def test_two_columns_are_read_column_by_column(tmp_path: Path, row_by_row: bool) -> None:
    data, left, right = samples.two_column_pdf(row_by_row=row_by_row)

    page = _extract(tmp_path, data).pages[0]

    assert page.title == "Two Columns Under One Title"
    assert page.markdown.split("\n\n") == [
        "## Two Columns Under One Title",
        " ".join(left),
        " ".join(right),
    ]


def test_single_column_text_is_not_mistaken_for_columns(tmp_path: Path) -> None:
    with pdfium.PdfDocument(samples.report_pdf(1)) as pdf:
        page = pdf[0]
        textpage = page.get_textpage()
        lines, across = pdf_reading._text_lines(textpage)
        textpage.close()
        page.close()

    assert lines
    assert not across


def test_a_document_without_text_gives_empty_pages_and_no_error(tmp_path: Path) -> None:
    result = _extract(tmp_path, samples.blank_pdf(2))

    assert [page.markdown for page in result.pages] == ["", ""]
    assert result.notes == []


def test_too_much_text_is_refused_as_soon_as_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[int] = []
    real_read_page = pdf_reading._read_page

    def counting_read_page(*args: Any) -> Any:
        read.append(1)
        return real_read_page(*args)

    monkeypatch.setattr(pdf_reading, "_read_page", counting_read_page)

    error = _error(tmp_path, samples.report_pdf(10), ExtractionLimits(max_chars=3_000))

    assert error.code == "too_long"
    assert error.user_message == (
        "This PDF has more text than allowed (more than 3,000 characters)."
    )
    assert len(read) < 10
