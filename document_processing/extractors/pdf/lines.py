"""Lines of text as read from a page, with their positions, and how their text is cleaned.

What every step shares: a line's box in PDF points, where a page's text came from (its text
layer, OCR, nothing) and the cleaning (NFKC, control characters, spaces, hyphenation marks)
that every reader applies before lines are joined.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from typing import NamedTuple

# pdfium replaces a hyphen it judges to be a line-end hyphenation with U+FFFE (older builds: \x02)
# and joins the two lines. Internally \x02 marks "word broken here"; the joiner decides whether
# the hyphen stays.
_BREAK_MARK = "\x02"
_JUNK = re.compile(
    r"[\x00\x01\x03-\x08\x0b-\x1f\x7f-\x9f\u200b\u2060\ufeff\ufffd\uffff\ue000-\uf8ff]"
)
_SPACE_RUN = re.compile(r" {2,}")
_OTHER_SPACES = ("\t", "\u2028", "\u2029")  # NFKC has made every other space a plain one
_TRAILING_SOFT_HYPHEN = re.compile(r"\u00ad[ \t]*(?=\n|\Z)")


class _Box(NamedTuple):
    """A line's extent in PDF points (y grows upwards)."""

    left: float
    bottom: float
    right: float
    top: float
    height: float  # top - bottom, kept because paragraph joining asks for it on every line


def _box(left: float, bottom: float, right: float, top: float) -> _Box:
    return _Box(left, bottom, right, top, top - bottom)


class _Line(NamedTuple):
    text: str
    box: _Box | None = None  # None for OCR text
    starts_block: bool = False  # the source already separates it from the line before


class _Source(enum.Enum):
    TEXT = "text"
    BLANK = "blank"  # no text and nothing that looks scanned
    OCR = "ocr"
    OCR_FAILED = "ocr_failed"
    NO_TEXT_LAYER = "no_text_layer"  # looks scanned, OCR unavailable or switched off
    UNREADABLE = "unreadable"


@dataclass(slots=True)
class _RawPage:
    lines: list[_Line]
    source: _Source
    two_columns: bool = False


def _has_letters(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _clean_text(text: str) -> str:
    """NFKC, no control or private-use characters, single spaces; line breaks kept as they are."""
    if "\ufffe" in text:
        text = text.replace("\ufffe", _BREAK_MARK)
    if not text.isascii():
        # A soft hyphen at a line end is a hyphenation point; anywhere else it is invisible.
        if "\u00ad" in text:
            text = _TRAILING_SOFT_HYPHEN.sub(_BREAK_MARK, text).replace("\u00ad", "")
        text = unicodedata.normalize("NFKC", text)  # ligatures (ﬁ → fi), full-width forms
    text = _JUNK.sub("", text)
    # Plain string tests before any pattern: a pattern that matches every space is slow.
    for space in _OTHER_SPACES:
        if space in text:
            text = text.replace(space, " ")
    if "  " in text:
        text = _SPACE_RUN.sub(" ", text)
    if " \n" in text or "\n " in text:
        text = text.replace(" \n", "\n").replace("\n ", "\n")
    return text.strip(" ")
