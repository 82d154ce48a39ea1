"""The extraction figures: each round's service time paired with its own raw pypdfium2 time."""

from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_the_pdf_figures_time_the_service_beside_raw_pdfium_round_by_round() -> None:
    from bench.figures_documents import pdf_extraction
    from document_processing.models import Document

    rate, fixed, peak = pdf_extraction(pages=4, rounds=1, small_pages=2)

    assert rate.name == "extract_pdf_pages_per_s"
    assert rate.value > 0
    assert rate.baseline is not None
    assert rate.baseline > 0
    assert "4-page" in rate.note
    assert fixed.name == "extract_fixed_ms"
    assert fixed.unit == "ms"
    assert fixed.target == "≤ 50 ms over raw"
    assert fixed.baseline is not None
    assert fixed.baseline > 0
    assert fixed.value > 0  # a child process, the database: more than raw pypdfium2 alone
    assert "2-page" in fixed.note
    assert "of 3" in fixed.note  # three times the rounds of the pages/s figure
    assert peak.name == "extract_pdf_peak_mb"
    assert not Document.objects.exists()  # each run's document is removed again
