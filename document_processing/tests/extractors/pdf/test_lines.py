"""Cleaning of the text read from a PDF (`pdf.lines`)."""

from __future__ import annotations

from pathlib import Path

from document_processing.extractors.pdf import lines as pdf_lines
from document_processing.tests.extractors import pdf_samples as samples
from document_processing.tests.extractors.pdf.helpers import _extract


def test_ligatures_are_spelled_out(tmp_path: Path) -> None:
    data = samples.lines_pdf([["The \ufb01rst \ufb02ow of the \ufb01eld."]])

    assert _extract(tmp_path, data).pages[0].markdown == "The first flow of the field."


def test_characters_nobody_can_read_are_removed() -> None:
    raw = "a\x00b\u200bc\ufeffd\ue000e\ufffdf \t g\u3000h\uff21"

    assert pdf_lines._clean_text(raw) == "abcdef g hA"
