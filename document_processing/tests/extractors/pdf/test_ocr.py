"""Pages without a text layer and text recognition with tesseract (`pdf.ocr`)."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from document_processing.extractors.base import ExtractionLimits
from document_processing.tests.extractors import pdf_samples as samples
from document_processing.tests.extractors.pdf.helpers import _extract


def _fake_tesseract(tmp_path: Path, script: str) -> str:
    """A PATH whose first `tesseract` runs `script` (sh), to test the OCR plumbing anywhere."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "tesseract"
    program.write_text(f"#!/bin/sh\n{script}\n")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


def test_scanned_pages_stay_empty_with_a_note_when_ocr_is_off(tmp_path: Path) -> None:
    result = _extract(tmp_path, samples.scanned_pdf(pages=2))

    assert [page.markdown for page in result.pages] == ["", ""]
    assert result.notes == [
        "Pages 1 and 2 have no text layer, only images, and text recognition (OCR) is switched "
        "off; they were left empty."
    ]


def test_scanned_pages_stay_empty_with_a_note_without_tesseract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract there

    result = _extract(tmp_path, samples.scanned_pdf(), ExtractionLimits(ocr_enabled=True))

    assert result.pages[0].markdown == ""
    assert "is not installed" in result.notes[0]


def test_scanned_pages_are_rendered_for_tesseract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = tmp_path / "seen"
    script = f'echo "$@" > {seen}.args\ncat > {seen}.png\nprintf "Recog-\\nnised words\\n\\nNext"'
    monkeypatch.setenv("PATH", _fake_tesseract(tmp_path, script))
    limits = ExtractionLimits(ocr_enabled=True, ocr_language="deu+eng")

    result = _extract(tmp_path, samples.scanned_pdf(), limits)

    assert result.pages[0].markdown == "Recognised words\n\nNext"
    assert result.notes == [
        "The text of page 1 was recognised from images (OCR) and may contain mistakes."
    ]
    assert (tmp_path / "seen.args").read_text().split() == ["stdin", "stdout", "-l", "deu+eng"]
    assert (tmp_path / "seen.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_a_failing_tesseract_leaves_the_page_empty_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", _fake_tesseract(tmp_path, "echo broken >&2\nexit 1"))

    result = _extract(tmp_path, samples.scanned_pdf(), ExtractionLimits(ocr_enabled=True))

    assert result.pages[0].markdown == ""
    assert result.notes == ["Text recognition (OCR) failed on page 1; it was left empty."]


@pytest.mark.skipif(
    shutil.which("tesseract") is None,
    reason="tesseract is not installed (apt install tesseract-ocr); the OCR plumbing is tested "
    "with a stand-in above",
)
def test_real_tesseract_reads_a_scanned_page(tmp_path: Path) -> None:
    result = _extract(tmp_path, samples.scanned_pdf("HELLO SCANNED WORLD"), ExtractionLimits())

    assert "HELLO SCANNED WORLD" in result.pages[0].markdown.upper()
