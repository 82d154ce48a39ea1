"""Markdown and plain-text files: pages split at the top-level headings or at the size cap."""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from document_processing.extractors.archive import read_limited
from document_processing.extractors.base import (
    ExtractedPage,
    ExtractionError,
    ExtractionLimits,
    ExtractionResult,
)
from document_processing.extractors.charsets import decode_bytes, display_name
from document_processing.extractors.splitting import PageBudget, split_markdown
from document_processing.markdown import escape_markdown

__all__ = ["MarkdownExtractor", "TextExtractor", "decode_text", "text_to_markdown"]

_EMPTY = "This file contains no readable text."
_GUESSED = "This file does not say how its characters are encoded; it was read as {name}."
_REPLACED = "Some characters could not be decoded and were replaced."
# UTF-8 needs at most four bytes a character, so a longer file cannot fit the character limit.
_MAX_BYTES_PER_CHAR = 4
# Controls other than tab and newline are invisible noise in text meant to be read aloud.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FRONT_MATTER_TITLE = re.compile(r"^title:[ \t]*[\"']?(.*?)[\"']?[ \t]*$", re.MULTILINE)
_MAX_FRONT_MATTER = 4096
_LEVEL_ONE_HEADING = re.compile(r"\A(?: {0,3}#[ \t]|[^\n]+\n {0,3}=+[ \t]*(?:\n|\Z))")


class MarkdownExtractor:
    """Markdown files, split at the top-level headings."""

    name: ClassVar[str] = "markdown"

    def extract(self, path: Path, *, limits: ExtractionLimits) -> ExtractionResult:
        text, notes = read_text(path, limits=limits)
        front_title, markdown = _split_front_matter(text)
        pages = split_markdown(markdown, max_chars=limits.page_max_chars, title=front_title)
        title = front_title or _first_top_heading(pages)
        return _result(pages, title=title, notes=notes, limits=limits)


class TextExtractor:
    """Plain-text files, escaped so they render as written, split at paragraphs when long."""

    name: ClassVar[str] = "text"

    def extract(self, path: Path, *, limits: ExtractionLimits) -> ExtractionResult:
        text, notes = read_text(path, limits=limits)
        markdown = text_to_markdown(text)
        pages = split_markdown(markdown, max_chars=limits.page_max_chars)
        return _result(pages, title="", notes=notes, limits=limits)


def read_text(path: Path, *, limits: ExtractionLimits) -> tuple[str, list[str]]:
    """The file as clean text (newlines normalised, controls removed) and any notes."""
    data = read_limited(path, max_bytes=limits.max_chars * _MAX_BYTES_PER_CHAR, kind="file")
    text, notes = decode_text(data)
    text = _CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    # A form feed separated printed pages; a paragraph break keeps that pause.
    text = text.replace("\f", "\n\n")
    if not text.strip():
        raise ExtractionError(_EMPTY, code="empty")
    if len(text) > limits.max_chars:
        raise ExtractionError("This file has more text than we can process.", code="too_large")
    return text, notes


def decode_text(data: bytes) -> tuple[str, list[str]]:
    """The file's text by its byte order mark, else UTF-8, else the legacy encoding detected
    (see `charsets`), with a note when the encoding was guessed or bytes were replaced."""
    decoded = decode_bytes(data)
    notes: list[str] = []
    if decoded.detected:
        notes.append(_GUESSED.format(name=display_name(decoded.encoding)))
    if decoded.replaced:
        notes.append(_REPLACED)
    return decoded.text, notes


def text_to_markdown(text: str) -> str:
    """Plain text as Markdown that renders as the same words (nothing turns into syntax)."""
    return escape_markdown(text)


def _split_front_matter(text: str) -> tuple[str, str]:
    """(title, rest) for Markdown that starts with a YAML front-matter block."""
    match = _FRONT_MATTER.match(text[:_MAX_FRONT_MATTER])
    if match is None:
        return "", text
    title = _FRONT_MATTER_TITLE.search(match.group(1))
    return (title.group(1).strip() if title else ""), text[match.end() :]


def _first_top_heading(pages: list[ExtractedPage]) -> str:
    """The title of the first page that opens with a level-1 heading (ATX or setext)."""
    for page in pages:
        if _LEVEL_ONE_HEADING.match(page.markdown):
            return page.title
    return ""


def _result(
    pages: list[ExtractedPage], *, title: str, notes: list[str], limits: ExtractionLimits
) -> ExtractionResult:
    budget = PageBudget(limits)
    budget.add(pages)
    if not budget.pages:
        raise ExtractionError(_EMPTY, code="empty")
    return ExtractionResult(pages=budget.pages, title=title, author="", notes=notes)
