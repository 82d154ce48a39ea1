"""A PDF read in shares between processes, decided and combined (`pdf.shares`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from document_processing.extractors.base import ExtractionError, ExtractionLimits
from document_processing.extractors.isolation import run_isolated
from document_processing.extractors.pdf import PdfExtractor
from document_processing.extractors.pdf import errors as pdf_errors
from document_processing.tests.extractors import pdf_samples as samples
from document_processing.tests.extractors.pdf.helpers import (
    LIMITS,
    RUNNING_TITLE,
    _book_pdf,
    _error,
    _extract,
    _json_trip,
    _shared,
)


@pytest.mark.parametrize("parts", [2, 3, 7])
def test_shares_of_a_document_give_what_the_whole_gives(tmp_path: Path, parts: int) -> None:
    path = samples.write(tmp_path, _book_pdf())
    whole = PdfExtractor().extract(path, limits=LIMITS)

    assert _shared(path, parts) == whole
    # What the shares decided together: running lines dropped on every page, and a hyphen kept
    # because another share's page writes the word with one.
    assert not any(RUNNING_TITLE in page.markdown for page in whole.pages)
    assert whole.pages[16].markdown.endswith("It is, twice, well-known and selfmade.")


def test_shares_read_in_children_give_what_the_whole_gives(tmp_path: Path) -> None:
    path = samples.write(tmp_path, _book_pdf())

    result = run_isolated(PdfExtractor(), path, limits=LIMITS, workers=2)

    assert result == PdfExtractor().extract(path, limits=LIMITS)


def test_shares_keep_the_split_pages_and_their_notes(tmp_path: Path) -> None:
    path = samples.write(tmp_path, samples.report_pdf(20))
    limits = ExtractionLimits(ocr_enabled=False, page_max_chars=600)

    result = _shared(path, 2, limits)

    assert result == PdfExtractor().extract(path, limits=limits)
    assert len(result.pages) > 20
    assert len(result.notes) == 20
    assert result.notes[-1].startswith("Page 20 was longer than 600 characters and was split")


def test_a_short_document_is_read_by_the_first_share(tmp_path: Path) -> None:
    path = samples.write(tmp_path, samples.report_pdf(4))
    extractor = PdfExtractor()

    second = extractor.read_share(path, limits=LIMITS, part=1, parts=2)

    assert second.pages == []
    assert _shared(path, 2) == extractor.extract(path, limits=LIMITS)


def test_too_much_text_in_all_shares_together_is_refused(tmp_path: Path) -> None:
    path = samples.write(tmp_path, samples.report_pdf(20))
    whole = PdfExtractor().read_share(path, limits=LIMITS, part=0, parts=1).chars_read
    limits = ExtractionLimits(ocr_enabled=False, max_chars=whole * 3 // 4)  # more than a half

    with pytest.raises(ExtractionError) as caught:
        _shared(path, 2, limits)

    assert caught.value.code == "too_long"
    assert (
        caught.value.user_message == _error(tmp_path, samples.report_pdf(20), limits).user_message
    )


def test_a_document_whose_every_share_is_unreadable_is_refused(tmp_path: Path) -> None:
    path = samples.write(tmp_path, samples.report_pdf(1))
    survey = _json_trip(PdfExtractor().read_share(path, limits=LIMITS, part=0, parts=1).survey())

    with pytest.raises(ExtractionError) as caught:
        PdfExtractor().decide([{**survey, "unreadable": 1}], limits=LIMITS)

    assert caught.value.user_message == pdf_errors.MSG_DAMAGED


@pytest.mark.parametrize(
    "change",
    [
        {"pages": True},
        {"first": 3},
        {"chars": "12"},
        {"heights": [["12", 3]]},
        {"edge_keys": [[1]]},
        {"edge_keys": []},
        {"words": "abc"},
        {"edge_words": [["key", "tall", ["a-b"]]]},
    ],
)
def test_a_malformed_survey_is_refused(tmp_path: Path, change: dict[str, Any]) -> None:
    path = samples.write(tmp_path, samples.report_pdf(1))
    survey = _json_trip(PdfExtractor().read_share(path, limits=LIMITS, part=0, parts=1).survey())

    with pytest.raises((TypeError, ValueError)):
        PdfExtractor().decide([{**survey, **change}], limits=LIMITS)


@pytest.mark.parametrize(
    "change",
    [{"pages": [["text", None]]}, {"title": 3}, {"notes": {"ocr": [1]}}],
)
def test_a_malformed_share_answer_is_refused(tmp_path: Path, change: dict[str, Any]) -> None:
    path = samples.write(tmp_path, samples.report_pdf(1))
    extractor = PdfExtractor()
    share = extractor.read_share(path, limits=LIMITS, part=0, parts=1)
    answer = _json_trip(share.finish(extractor.decide([share.survey()], limits=LIMITS)))

    with pytest.raises((TypeError, ValueError, KeyError)):
        extractor.combine([{**answer, **change}], limits=LIMITS)


def test_a_page_longer_than_the_page_limit_is_split(tmp_path: Path) -> None:
    whole = _extract(tmp_path, samples.report_pdf(1)).pages[0].markdown
    limits = ExtractionLimits(ocr_enabled=False, page_max_chars=600)

    result = _extract(tmp_path, samples.report_pdf(1), limits)

    assert len(result.pages) > 1
    assert all(len(page.markdown) <= 600 for page in result.pages)
    assert " ".join(page.markdown for page in result.pages).split() == whole.split()
    assert result.notes == [
        f"Page 1 was longer than 600 characters and was split into {len(result.pages)} parts."
    ]
