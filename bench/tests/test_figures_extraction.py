"""The extraction figures: each round's service time paired with its own raw pypdfium2 time."""

from __future__ import annotations

import pytest

from bench.figures_documents import paired_round


def test_the_figure_is_one_real_round_the_median_by_ratio() -> None:
    # Round 2 was measured in a busy moment: both of its sides are slow.
    task = [1.0, 4.0, 1.2]
    raw = [0.8, 4.0, 0.6]

    assert paired_round(task, raw, by=lambda value, baseline: value / baseline) == (1.0, 0.8)
    # Medians taken apart would pair round 3's task with round 1's raw: (1.2, 0.8).


def test_the_median_round_by_difference_and_the_lower_middle_of_an_even_count() -> None:
    task = [0.10, 0.30, 0.06, 0.08]
    raw = [0.01, 0.02, 0.02, 0.01]  # differences 0.09, 0.28, 0.04, 0.07

    assert paired_round(task, raw, by=lambda value, baseline: value - baseline) == (0.08, 0.01)


def test_rounds_must_pair_up() -> None:
    with pytest.raises(ValueError):
        paired_round([1.0, 2.0], [1.0], by=lambda value, baseline: value / baseline)


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
