"""Opening a PDF (`pdf.opening`): metadata, page limits, bad and protected files, and the
pdfminer.six fallback for files pdfium refuses."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from document_processing.extractors.base import ExtractionError, ExtractionLimits
from document_processing.extractors.isolation import run_isolated
from document_processing.extractors.pdf import PdfExtractor
from document_processing.extractors.pdf import errors as pdf_errors
from document_processing.markdown import markdown_to_text
from document_processing.tests.extractors import pdf_samples as samples
from document_processing.tests.extractors.pdf.helpers import (
    LIMITS,
    RUNNING_TITLE,
    _book_pdf,
    _error,
    _extract,
    _shared,
)


def test_title_and_author_come_from_the_metadata(tmp_path: Path) -> None:
    result = _extract(tmp_path, samples.report_pdf(1))

    assert (result.title, result.author) == ("Example Report", "Ada Lovelace")


def test_placeholder_metadata_is_not_a_title(tmp_path: Path) -> None:
    data = samples.pdf_bytes([["Text."]], title="Microsoft Word - draft3.docx", author="")

    result = _extract(tmp_path, data)

    assert (result.title, result.author) == ("", "")


def test_too_many_pages_are_refused_with_the_count(tmp_path: Path) -> None:
    error = _error(tmp_path, samples.blank_pdf(5), ExtractionLimits(max_pages=3))

    assert error.user_message == "This PDF has 5 pages; the limit is 3."
    assert error.code == "too_many_pages"


def test_a_page_tree_claiming_a_million_pages_is_refused_before_any_page_is_read(
    tmp_path: Path,
) -> None:
    # pdfium believes a /Count below 2**20 without reading the tree; the limit stops it there.

    error = _error(tmp_path, samples.claimed_pages_pdf(1_000_000))

    assert error.user_message == "This PDF has 1,000,000 pages; the limit is 2,000."


def test_a_page_tree_claiming_millions_of_pages_yields_its_real_pages(tmp_path: Path) -> None:
    # Above 2**20 pdfium counts the pages the tree really holds: nothing is made per claim.

    result = _extract(tmp_path, samples.claimed_pages_pdf(5_000_000))

    assert [page.markdown for page in result.pages] == [""]


# --- Bad input ------------------------------------------------------------------------------------


NO_LIBRARY_WORDS = ("pdfium", "Failed", "error", "Data format")


def _assert_plain(error: ExtractionError) -> None:
    assert not any(word in error.user_message for word in NO_LIBRARY_WORDS)


@pytest.mark.parametrize("kept", [0.1, 0.5, 0.9, 0.99])
def test_a_truncated_pdf_is_refused(tmp_path: Path, kept: float) -> None:
    data = samples.report_pdf(3)

    error = _error(tmp_path, data[: int(len(data) * kept)])

    assert error.user_message == pdf_errors.MSG_DAMAGED
    assert error.code == "unreadable"
    _assert_plain(error)


def test_garbage_after_a_pdf_header_is_refused(tmp_path: Path) -> None:
    error = _error(tmp_path, b"%PDF-1.7\n" + os.urandom(4096))

    assert error.user_message == pdf_errors.MSG_DAMAGED
    _assert_plain(error)


def test_a_password_protected_pdf_is_refused(tmp_path: Path) -> None:
    data = samples.pdf_bytes([["Secret text."]], encrypt="secret")

    error = _error(tmp_path, data)

    assert error.user_message == pdf_errors.MSG_ENCRYPTED
    assert error.user_message.startswith("This PDF is protected by a password")
    assert error.code == "encrypted"


def test_a_pdf_with_only_an_owner_password_is_read(tmp_path: Path) -> None:
    from reportlab.lib.pdfencrypt import StandardEncryption

    encryption = StandardEncryption("", ownerPassword="owner", canPrint=0, canCopy=0)
    data = samples.pdf_bytes([["Readable text."]], encrypt=encryption)

    assert _extract(tmp_path, data).pages[0].markdown == "Readable text."


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    error = _error(tmp_path, b"")

    assert (error.user_message, error.code) == (pdf_errors.MSG_EMPTY, "empty")


def test_a_file_that_is_not_a_pdf_is_refused(tmp_path: Path) -> None:
    error = _error(tmp_path, b"<html><body>Not a PDF at all</body></html>\n" * 20)

    assert (error.user_message, error.code) == (pdf_errors.MSG_NOT_PDF, "not_pdf")


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,  # the same files on every run: a failure here must be reproducible
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_damaged_pdfs_give_a_result_or_a_plain_error(tmp_path: Path, data: st.DataObject) -> None:
    # Mutations of a valid file: run isolated, as in production, so that a crash in pdfium
    # cannot take the test run with it; it is then an ExtractionError like any other.
    original = bytearray(samples.report_pdf(2))
    for _ in range(data.draw(st.integers(1, 8), label="mutations")):
        position = data.draw(st.integers(0, len(original) - 1), label="position")
        original[position] = data.draw(st.integers(0, 255), label="byte")
    path = samples.write(tmp_path, bytes(original), "fuzzed.pdf")
    limits = ExtractionLimits(ocr_enabled=False, timeout_seconds=20)

    try:
        result = run_isolated(PdfExtractor(), path, limits=limits)
    except ExtractionError as error:
        _assert_plain(error)
    else:
        assert len(result.pages) <= 2


# --- A file pdfium refuses: pdfminer.six reads it -------------------------------------------------


CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "pdf"


def _lost_page_tree(pdf: bytes) -> bytes:
    """The PDF with its catalog pointing at a page tree that is not there: pdfium finds no
    pages, pdfminer finds the page objects themselves."""
    damaged = re.sub(rb"/Pages \d+ 0 R", b"/Pages 99 0 R", pdf, count=1)
    assert damaged != pdf
    return damaged


def test_a_pdf_pdfium_refuses_is_read_by_pdfminer(tmp_path: Path) -> None:
    data = _lost_page_tree(samples.pdf_bytes([["The keeper climbed the stairs."], ["Page two."]]))
    with pytest.raises(pdfium.PdfiumError):
        pdfium.PdfDocument(data)

    result = _extract(tmp_path, data)

    assert [markdown_to_text(page.markdown) for page in result.pages] == [
        "The keeper climbed the stairs.",
        "Page two.",
    ]


def test_the_fallback_drops_running_lines_and_shares_like_pdfium(tmp_path: Path) -> None:
    path = samples.write(tmp_path, _lost_page_tree(_book_pdf()))
    whole = PdfExtractor().extract(path, limits=LIMITS)

    assert len(whole.pages) == 20
    assert not any(RUNNING_TITLE in page.markdown for page in whole.pages)
    assert _shared(path, 3) == whole
    assert run_isolated(PdfExtractor(), path, limits=LIMITS, workers=2) == whole


def test_the_fallback_keeps_the_page_limit(tmp_path: Path) -> None:
    data = _lost_page_tree(samples.pdf_bytes([["One."], ["Two."], ["Three."]]))

    error = _error(tmp_path, data, ExtractionLimits(ocr_enabled=False, max_pages=2))

    assert error.code == "too_many_pages"
    _assert_plain(error)


def test_the_fallback_keeps_the_character_limit(tmp_path: Path) -> None:
    data = _lost_page_tree(samples.pdf_bytes([["A line of forty characters, more or less."]] * 3))

    error = _error(tmp_path, data, ExtractionLimits(ocr_enabled=False, max_chars=60))

    assert error.code == "too_long"


def test_a_password_only_pdfminer_recognises_is_named(tmp_path: Path) -> None:
    # pdf.js's issue 19484: pdfium reports no error and no pages; pdfminer asks for a password.
    error = _error(tmp_path, (CORPUS / "pdfjs-issue19484_1.pdf").read_bytes())

    assert error.user_message == pdf_errors.MSG_ENCRYPTED
    assert error.code == "encrypted"


def test_a_real_password_protected_pdf_is_refused(tmp_path: Path) -> None:
    error = _error(tmp_path, (CORPUS / "pdfjs-issue6010_1-password-abc.pdf").read_bytes())

    assert error.user_message == pdf_errors.MSG_ENCRYPTED
