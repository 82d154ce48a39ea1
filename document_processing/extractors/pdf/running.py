"""Running headers and footers: lines at the top or bottom of a page that, digits aside, repeat
on most pages (or on alternate pages, or on pages in a row), and page numbers."""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Sequence

from document_processing.extractors.pdf.lines import _Line
from document_processing.extractors.pdf.paragraphs import _is_larger

# Running headers and footers are only looked for when there are enough pages to see repetition.
_RUNNING_MIN_PAGES = 4
_RUNNING_MIN_REPEATS = 3
_RUNNING_EDGE_LINES = 2
_RUNNING_MAX_CHARS = 200
# "12", "- 12 -", "xiv", "page 3", "3 of 40", "3/40" (dashes: hyphen, en and em).
_PAGE_NUMBER = re.compile(
    r"[-\u2013\u2014\s]*(?:page\s*)?(?:\d+|[ivxlcdm]+)(?:\s*(?:of|/)\s*\d+)?[-\u2013\u2014\s]*"
)
_DIGITS = re.compile(r"\d+")


def _running_keys(page_keys: Sequence[Collection[str] | None]) -> set[str]:
    """The keys (see _running_key) of running headers and footers, from the keys of each page's
    edge lines (None for a page without text): lines at the top or bottom of pages that, digits
    aside, repeat on most pages, on most odd or even pages (books alternate the title and the
    chapter), or on three pages in a row (a chapter's running title), and page numbers."""
    with_text = [index for index, keys in enumerate(page_keys) if keys is not None]
    if len(with_text) < _RUNNING_MIN_PAGES:
        return set()
    seen_on: dict[str, list[int]] = {}
    for index in with_text:
        for key in set(page_keys[index] or ()):
            if key:
                seen_on.setdefault(key, []).append(index)
    parity_pages = (
        sum(1 for index in with_text if index % 2 == 0),
        sum(1 for index in with_text if index % 2 == 1),
    )
    return {
        key
        for key, indices in seen_on.items()
        if _is_running(key, indices, len(with_text), parity_pages)
    }


def _is_running(
    key: str, indices: Sequence[int], pages: int, parity_pages: tuple[int, int]
) -> bool:
    """Whether a key seen at the edge of the pages `indices` (ascending) is a running line."""
    if len(indices) < _RUNNING_MIN_REPEATS:
        return False
    if key == "#" or 2 * len(indices) > pages:
        return True  # page numbers; lines on most pages
    for parity in (0, 1):
        same = sum(1 for index in indices if index % 2 == parity)
        if same >= _RUNNING_MIN_REPEATS and 2 * same > parity_pages[parity]:
            return True
    return _longest_run(indices, step=1) >= 3 or _longest_run(indices, step=2) >= 3


def _longest_run(indices: Sequence[int], *, step: int) -> int:
    """The most indices that follow each other `step` apart (every page, every other page)."""
    present = set(indices)
    best = 0
    for index in indices:
        if index - step not in present:  # the start of a run
            length = 1
            while index + step * length in present:
                length += 1
            best = max(best, length)
    return best


def _edge_keys(lines: Sequence[_Line]) -> dict[int, str]:
    """{position: running key} of the page's edge lines, the candidates for running lines."""
    return {i: _running_key(lines[i].text) for i in _edge_positions(lines)}


def _edge_positions(lines: Sequence[_Line]) -> set[int]:
    """Positions of the first and last lines, both in reading order and by height on the page."""
    k = _RUNNING_EDGE_LINES
    positions = set(range(min(k, len(lines)))) | set(range(max(0, len(lines) - k), len(lines)))
    tops = [line.box.top if line.box is not None else math.nan for line in lines]
    if tops and not math.isnan(min(tops)):  # nan compares false: only when every line is placed
        by_height = sorted(range(len(tops)), key=tops.__getitem__)
        positions.update(by_height[:k])
        positions.update(by_height[-k:])
    return positions


def _running_key(text: str) -> str:
    if len(text) > _RUNNING_MAX_CHARS:
        return ""
    key = " ".join(text.lower().split())
    if _PAGE_NUMBER.fullmatch(key):
        return "#"
    return _DIGITS.sub("#", key)


def _without_running(
    lines: list[_Line], edges: dict[int, str], running: set[str], body: float
) -> list[_Line]:
    if running.isdisjoint(edges.values()):
        return lines
    drop = {
        i
        for i, key in edges.items()
        if key in running
        # The document title at the top of page one can equal the running header: keep it.
        and not _is_larger(lines[i], body)
    }
    if not drop:
        return lines
    return [line for i, line in enumerate(lines) if i not in drop]
