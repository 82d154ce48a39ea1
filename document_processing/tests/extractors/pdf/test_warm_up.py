"""The page a spare child reads before it is given a file (`pdf.warm_up`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from document_processing.extractors.pdf import PdfExtractor
from document_processing.extractors.pdf import extractor as pdf_extractor
from document_processing.extractors.pdf.warm_up import SAMPLE
from document_processing.tests.extractors.pdf.helpers import LIMITS, _extract


def test_the_warm_up_page_reads_as_a_page_of_text_with_a_cover(tmp_path: Path) -> None:
    result = _extract(tmp_path, SAMPLE)

    assert (result.title, result.author) == ("A page read before any other", "Pagecast")
    assert len(result.pages) == 1
    assert result.pages[0].markdown.startswith("## A Page Read Before Any Other\n\nReading ")
    assert len(result.pages[0].markdown.split()) > 400  # a page of body text, as a book's
    assert result.cover


def test_warming_up_reads_the_page_as_a_file_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every step of `extract`, the cover included, from memory: no file is written."""
    read = []
    real = pdf_extractor._read_open_share

    def recording(*args: object, **kwargs: object) -> object:
        share = real(*args, **kwargs)  # type: ignore[arg-type]
        read.append(share)
        return share

    monkeypatch.setattr(pdf_extractor, "_read_open_share", recording)

    PdfExtractor().warm_up(limits=LIMITS)

    assert len(read) == 1
    assert read[0].page_count == 1
    assert read[0].cover
