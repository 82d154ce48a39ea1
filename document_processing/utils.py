"""Small helpers for document handling that need neither Django nor the database."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["MAX_FILENAME_CHARS", "sanitize_filename"]

MAX_FILENAME_CHARS = 200
# Most file systems (ext4, APFS, NTFS via UTF-16) and S3 key segments cap a name at 255 bytes;
# 200 characters of CJK text would be 600 bytes of UTF-8, so bytes are capped as well.
MAX_FILENAME_BYTES = 255
_MAX_EXTENSION_CHARS = 10

# Controls that stand for whitespace become a space (so "a\r\nb" reads "a b"); all other
# control, format (bidi overrides, zero-width), surrogate, private-use and unassigned characters
# are dropped without trace: they are invisible, so nobody meant them. Pictographs (emoji) and
# modifier symbols are dropped too: they carry no meaning a file name needs.
_WHITESPACE_CONTROLS = frozenset("\t\n\r\v\f\x1c\x1d\x1e\x1f\x85")
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "So", "Sk"})
_KEPT_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Nd"})
_KEPT_PUNCTUATION = frozenset(" -_.()")
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{digit}" for digit in range(1, 10)}
    | {f"LPT{digit}" for digit in range(1, 10)}
)
_RUNS = re.compile(r"( |_|\.)\1+")
_EXTENSION = re.compile(rf"[^\W_]{{1,{_MAX_EXTENSION_CHARS}}}")


def sanitize_filename(name: str, *, fallback: str = "document") -> str:
    """A file name that is safe to store, show and put in a Content-Disposition header.

    Only the last path component survives; the result holds letters, digits, marks, space and
    `-_.()`, keeps its extension, has at most 200 characters (and 255 UTF-8 bytes) and is never
    empty. The function is idempotent.
    """
    normalised = unicodedata.normalize("NFKC", name)
    # NFKC first, so that look-alikes such as the fullwidth solidus become "/" and are split on.
    last = re.split(r"[/\\]", normalised)[-1]
    # Trailing dots and spaces go first (Windows drops them anyway), leading dots only from the
    # stem, so that ".pdf" is read as an empty stem with an extension.
    cleaned = _collapse(_keep_safe_characters(last)).rstrip(". ").lstrip(" ")
    stem, extension = _split_extension(cleaned)
    stem = _truncate(stem.strip(". "), extension).strip(". ")
    if not stem:
        stem = _collapse(_keep_safe_characters(fallback)).strip(". ") or "document"
        stem = _truncate(stem, extension).strip(". ")
    if stem.split(".")[0].strip().upper() in _WINDOWS_RESERVED:
        # "CON.pdf" cannot be created on Windows; a prefix keeps it readable and stays stable.
        stem = f"_{stem}"
    return f"{stem}.{extension}" if extension else stem


def _keep_safe_characters(text: str) -> str:
    kept: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if char in _WHITESPACE_CONTROLS or category.startswith("Z"):
            kept.append(" ")
        elif category in _DROPPED_CATEGORIES:
            continue
        elif char in _KEPT_PUNCTUATION or category in _KEPT_CATEGORIES:
            kept.append(char)
        else:
            # Visible but unsafe (":", "*", "<", quotes, emoji): replaced, so words stay apart.
            kept.append("_")
    return "".join(kept)


def _collapse(text: str) -> str:
    """Runs of spaces, underscores or dots become one, so `..` can never reappear."""
    return _RUNS.sub(r"\1", text)


def _split_extension(name: str) -> tuple[str, str]:
    stem, dot, extension = name.rpartition(".")
    if dot and _EXTENSION.fullmatch(extension):
        return stem, extension
    return name, ""


def _truncate(stem: str, extension: str) -> str:
    suffix = f".{extension}" if extension else ""
    stem = stem[: MAX_FILENAME_CHARS - len(suffix)]
    budget = MAX_FILENAME_BYTES - len(suffix.encode())
    while len(stem.encode()) > budget:
        stem = stem[:-1]
    return stem
