"""A document's pages read in shares, the decision taken over all of them, and the result.

A long document can be shared between processes (`isolation.PartedExtractor`): each reads a
range of pages and surveys them; what needs every page (the body text size, the running
lines, the words the document writes with a hyphen) is decided once from the surveys; each
share then finishes its pages and the parts are joined, with notes that say what happened to
which page. Surveys and answers come from other processes as JSON: checked, not trusted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from document_processing.extractors.base import (
    ExtractedPage,
    ExtractionError,
    ExtractionLimits,
    ExtractionResult,
)
from document_processing.extractors.cover import InvalidCoverError, cover_from_json, cover_to_json
from document_processing.extractors.pdf.errors import MSG_DAMAGED, _too_long
from document_processing.extractors.pdf.lines import _RawPage, _Source
from document_processing.extractors.pdf.paragraphs import (
    _body_sample_step,
    _count_heights,
    _hyphenated_words,
    _is_larger_height,
    _markdown,
    _median_height,
    _Metrics,
    _paragraphs,
)
from document_processing.extractors.pdf.running import _edge_keys, _running_keys, _without_running
from document_processing.extractors.splitting import fit_markdown

logger = logging.getLogger(__name__)


# A document shorter than this is read by one process whatever the number of shares: a share
# of a few pages costs more to start than it saves.
_SHARED_MIN_PAGES = 16


@dataclass(slots=True)
class _Notes:
    no_text_layer: list[int] = field(default_factory=list)
    ocr: list[int] = field(default_factory=list)
    ocr_failed: list[int] = field(default_factory=list)
    unreadable: list[int] = field(default_factory=list)
    split: list[tuple[int, int]] = field(default_factory=list)


def _share_range(page_count: int, part: int, parts: int) -> range:
    """The pages of share `part` of `parts`: consecutive, as many in each as can be; a short
    document is all in the first share, the others are empty."""
    if not 0 <= part < parts:
        raise ValueError(f"there is no share {part} of {parts}")
    if page_count < _SHARED_MIN_PAGES:
        return range(page_count) if part == 0 else range(page_count, page_count)
    return range(page_count * part // parts, page_count * (part + 1) // parts)


@dataclass(slots=True)
class _Share:
    """Consecutive pages of a document as one process read them, on their way to Markdown."""

    first: int  # the index of the first of them in the document
    page_count: int  # of the whole document
    pages: list[_RawPage]
    chars_read: int
    title: str
    author: str
    limits: ExtractionLimits
    cover: bytes = b""  # page 1 drawn, in the share that holds it
    edges: list[dict[int, str]] = field(default_factory=list)  # each page's, from survey()

    def survey(self) -> dict[str, Any]:
        """What the decision needs to know of these pages (JSON-compatible)."""
        step = _body_sample_step(self.page_count)
        chars_by_height: dict[float, int] = {}
        self.edges = [_edge_keys(page.lines) for page in self.pages]
        page_keys: list[list[str] | None] = []
        # Words written with a hyphen on lines that stay, and on edge lines that may be dropped
        # as running lines: [key, height, words].
        words: set[str] = set()
        edge_words: list[list[Any]] = []
        pages = zip(self.pages, self.edges, strict=True)
        for index, (page, edges) in enumerate(pages, start=self.first):
            lines = page.lines
            if index % step == 0:
                _count_heights(lines, chars_by_height)
            page_keys.append(sorted({key for key in edges.values() if key}) if lines else None)
            for position, line in enumerate(lines):
                if "-" not in line.text:
                    continue
                found = _hyphenated_words(line.text)
                key = edges.get(position, "")
                if found and key:
                    height = line.box.height if line.box is not None else None
                    edge_words.append([key, height, found])
                else:
                    words.update(found)
        return {
            "first": self.first,
            "pages": len(self.pages),
            "chars": self.chars_read,
            "unreadable": sum(1 for page in self.pages if page.source is _Source.UNREADABLE),
            "heights": [[height, chars] for height, chars in chars_by_height.items()],
            "edge_keys": page_keys,
            "words": sorted(words),
            "edge_words": edge_words,
        }

    def finish(self, decision: Any) -> dict[str, Any]:
        """These pages as Markdown under the decision, with their notes (JSON-compatible)."""
        body_height = _number(decision["body_height"])
        running = set(_strings(decision["running"]))
        hyphenated = frozenset(_strings(decision["hyphenated"]))
        if len(self.edges) != len(self.pages):
            self.edges = [_edge_keys(page.lines) for page in self.pages]
        limits = self.limits
        notes = _Notes()
        pages: list[list[str]] = []
        raw_and_edges = zip(self.pages, self.edges, strict=True)
        for number, (raw, edges) in enumerate(raw_and_edges, start=self.first + 1):
            _note_source(notes, raw.source, number)
            lines = raw.lines
            if running:
                lines = _without_running(lines, edges, running, body_height)
            paragraphs = _paragraphs(lines, _Metrics.of(lines, body_height), hyphenated)
            page_title = paragraphs[0].text if paragraphs and paragraphs[0].heading else ""
            markdown = _markdown(paragraphs) if paragraphs else ""
            if len(markdown) <= limits.page_max_chars:
                pages.append([markdown, page_title])
            else:  # cut as the other formats are: at headings, then paragraphs, sentences, words
                parts = fit_markdown(markdown, max_chars=limits.page_max_chars, title=page_title)
                notes.split.append((number, len(parts)))
                pages.extend([part.markdown, part.title] for part in parts)
        return {
            "pages": pages,
            "notes": _notes_to_json(notes),
            "title": self.title,
            "author": self.author,
            "cover": cover_to_json(self.cover),
        }


def _decide(surveys: Sequence[Any], limits: ExtractionLimits) -> dict[str, Any]:
    """What every share must know of all of them: the body text height, the running lines and
    the words written with a hyphen. Surveys come from other processes: checked, not trusted."""
    pages = chars = unreadable = 0
    chars_by_height: dict[float, int] = {}
    page_keys: list[list[str] | None] = []
    words: set[str] = set()
    edge_words: list[tuple[str, float | None, list[str]]] = []
    for survey in surveys:
        count = _int(survey["pages"])
        keys = survey["edge_keys"]
        if _int(survey["first"]) != pages or count < 0 or len(keys) != count:
            raise ValueError("the shares do not follow each other")
        pages += count
        chars += _int(survey["chars"])
        unreadable += _int(survey["unreadable"])
        for height, chars_of_height in survey["heights"]:
            size = _number(height)
            chars_by_height[size] = chars_by_height.get(size, 0) + _int(chars_of_height)
        page_keys.extend(None if page is None else _strings(page) for page in keys)
        words.update(_strings(survey["words"]))
        for key, height, found in survey["edge_words"]:
            edge_words.append(
                (_str(key), None if height is None else _number(height), _strings(found))
            )
    if chars > limits.max_chars:
        raise _too_long(limits)
    if unreadable == pages:
        raise ExtractionError(MSG_DAMAGED, code="unreadable")
    body_height = _median_height(chars_by_height)
    running = _running_keys(page_keys)
    for key, height, found in edge_words:
        # As _without_running decides: a running line goes, unless it is larger than the body.
        if key not in running or _is_larger_height(height, body_height):
            words.update(found)
    return {"body_height": body_height, "running": sorted(running), "hyphenated": sorted(words)}


def _combine(finished: Sequence[Any], limits: ExtractionLimits) -> ExtractionResult:
    """The shares' pages and notes, in order, as one result."""
    pages: list[ExtractedPage] = []
    notes = _Notes()
    for answer in finished:
        pages.extend(
            ExtractedPage(markdown=_str(markdown), title=_str(title))
            for markdown, title in answer["pages"]
        )
        _notes_from_json(answer["notes"], notes)
    if sum(len(page.markdown) for page in pages) > limits.max_chars:
        raise _too_long(limits)
    return ExtractionResult(
        pages=pages,
        title=_str(finished[0]["title"]),
        author=_str(finished[0]["author"]),
        notes=_note_texts(notes, limits),
        cover=_checked_cover(finished[0].get("cover")),
    )


def _checked_cover(value: Any) -> bytes:
    """The first share's cover, if it is one; a bad cover is dropped, not the document."""
    try:
        return cover_from_json(value)
    except InvalidCoverError as problem:
        logger.warning("The cover of a PDF was dropped: %s", problem)
        return b""


def _notes_to_json(notes: _Notes) -> dict[str, Any]:
    return {
        "no_text_layer": notes.no_text_layer,
        "ocr": notes.ocr,
        "ocr_failed": notes.ocr_failed,
        "unreadable": notes.unreadable,
        "split": [[number, parts] for number, parts in notes.split],
    }


def _notes_from_json(data: Any, notes: _Notes) -> None:
    notes.no_text_layer.extend(_ints(data["no_text_layer"]))
    notes.ocr.extend(_ints(data["ocr"]))
    notes.ocr_failed.extend(_ints(data["ocr_failed"]))
    notes.unreadable.extend(_ints(data["unreadable"]))
    notes.split.extend((_int(number), _int(parts)) for number, parts in data["split"])


# What came from another process, checked: TypeError when it is not what it should be.


def _int(value: Any) -> int:
    if type(value) is not int:  # not a bool either
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value


def _number(value: Any) -> float:
    if type(value) is not float and type(value) is not int:
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return float(value) if type(value) is int else value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return [_str(item) for item in value]


def _ints(value: Any) -> list[int]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return [_int(item) for item in value]


def _note_source(notes: _Notes, source: _Source, number: int) -> None:
    target = {
        _Source.NO_TEXT_LAYER: notes.no_text_layer,
        _Source.OCR: notes.ocr,
        _Source.OCR_FAILED: notes.ocr_failed,
        _Source.UNREADABLE: notes.unreadable,
    }.get(source)
    if target is not None:
        target.append(number)


def _note_texts(notes: _Notes, limits: ExtractionLimits) -> list[str]:
    texts: list[str] = []
    if notes.no_text_layer:
        why = "is switched off" if not limits.ocr_enabled else "is not installed"
        texts.append(
            f"{_pages(notes.no_text_layer)} no text layer, only images, and text recognition "
            f"(OCR) {why}; {_left_empty(notes.no_text_layer)}."
        )
    if notes.ocr:
        texts.append(
            f"The text of {_pages(notes.ocr, verb=False)} was recognised from images (OCR) "
            "and may contain mistakes."
        )
    if notes.ocr_failed:
        texts.append(
            f"Text recognition (OCR) failed on {_pages(notes.ocr_failed, verb=False)}; "
            f"{_left_empty(notes.ocr_failed)}."
        )
    if notes.unreadable:
        texts.append(
            f"{_pages(notes.unreadable)} errors that could not be read past; "
            f"{_left_empty(notes.unreadable)}."
        )
    texts.extend(
        f"Page {number} was longer than {limits.page_max_chars:,} characters and was split "
        f"into {parts} parts."
        for number, parts in notes.split
    )
    return texts


def _left_empty(numbers: Sequence[int]) -> str:
    return "it was left empty" if len(numbers) == 1 else "they were left empty"


def _pages(numbers: Sequence[int], *, verb: bool = True) -> str:
    """'page 4', 'pages 3, 7 and 9' or '12 pages'; with verb, followed by 'has' or 'have'."""
    if len(numbers) == 1:
        text = f"page {numbers[0]}"
    elif len(numbers) <= 5:
        text = "pages " + ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}"
    else:
        text = f"{len(numbers)} pages"
    if not verb:
        return text
    return f"{text[0].upper()}{text[1:]} {'has' if len(numbers) == 1 else 'have'}"
