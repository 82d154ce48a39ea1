"""Reading each page's lines with their positions, in reading order.

pdfium gives the text in content-stream order. Pages whose text boxes stand in two columns
are read again with pdfminer's layout analysis, because for such pages that order often runs
row by row across both columns. Pages with images but no text layer go to OCR (`ocr`).
"""

from __future__ import annotations

import ctypes
import itertools
import logging
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from document_processing.extractors.base import ExtractionLimits
from document_processing.extractors.pdf.errors import _too_long
from document_processing.extractors.pdf.lines import (
    _Box,
    _box,
    _clean_text,
    _has_letters,
    _Line,
    _RawPage,
    _Source,
)
from document_processing.extractors.pdf.ocr import _Ocr

if TYPE_CHECKING:
    from pdfminer.layout import LTPage

logger = logging.getLogger(__name__)

# A visual line ends at a line break or at pdfium's hyphenation mark (see `lines._BREAK_MARK`).
_LINE_BREAK = re.compile(r"[\ufffe\x02](?:\r\n|[\r\n])?|\r\n|[\r\n]")
_UNMAPPED_GLYPH = re.compile(r"\(cid:\d+\)")  # pdfminer's stand-in for a glyph without Unicode

# A column needs this many lines before a page counts as laid out in columns.
_COLUMN_MIN_LINES = 5


def _bare(function: Any) -> Any:
    """The same pdfium function without ctypes' conversion of each argument, which here costs
    twice the call itself (measured: 0.74 µs against 0.23 µs a call). Only for functions that
    take pointers and C ints and return an int, called once or twice for every line of text."""
    address = ctypes.cast(function, ctypes.c_void_p).value
    return type(function)(address)  # argtypes None, restype c_int


_LOOSE_CHAR_BOX = _bare(pdfium_c.FPDFText_GetLooseCharBox)
_CHAR_INDEX = _bare(pdfium_c.FPDFText_GetCharIndexFromTextIndex)
_TEXT_RECT = _bare(pdfium_c.FPDFText_GetRect)
_COUNT_RECTS = _bare(pdfium_c.FPDFText_CountRects)


def _read_pages(
    pdf: pdfium.PdfDocument, limits: ExtractionLimits, indices: range
) -> tuple[list[_RawPage], int]:
    """The pages at `indices`, and how many characters they hold."""
    ocr = _Ocr.find(limits)
    pages: list[_RawPage] = []
    total_chars = 0
    for index in indices:
        page = _read_page(pdf, index, ocr)
        # Counted as read, so a huge document stops early instead of being held whole.
        total_chars += sum(len(line.text) for line in page.lines)
        if total_chars > limits.max_chars:
            raise _too_long(limits)
        pages.append(page)
    return pages, total_chars


def _read_page(pdf: pdfium.PdfDocument, index: int, ocr: _Ocr | None) -> _RawPage:
    try:
        page = pdf[index]
    except pdfium.PdfiumError:
        logger.info("PDF page %d could not be loaded", index + 1)
        return _RawPage([], _Source.UNREADABLE)
    try:
        textpage = page.get_textpage()
        try:
            lines, two_columns = _text_lines(textpage)
        finally:
            textpage.close()
        if any(_has_letters(line.text) for line in lines):
            return _RawPage(lines, _Source.TEXT, two_columns=two_columns)
        if not _has_images(page):
            return _RawPage(lines, _Source.BLANK if not lines else _Source.TEXT)
        if ocr is None:
            return _RawPage([], _Source.NO_TEXT_LAYER)
        text = ocr.recognise(page)
        if text is None:
            return _RawPage([], _Source.OCR_FAILED)
        return _RawPage(_plain_lines(text), _Source.OCR)
    except pdfium.PdfiumError:
        logger.info("PDF page %d could not be read", index + 1, exc_info=True)
        return _RawPage([], _Source.UNREADABLE)
    finally:
        page.close()


def _has_images(page: pdfium.PdfPage) -> bool:
    images = page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=3)
    return next(iter(images), None) is not None


def _text_lines(textpage: pdfium.PdfTextPage) -> tuple[list[_Line], bool]:
    """The page's lines with their boxes, and whether its text stands in two columns."""
    raw = textpage.get_text_range()
    if not raw or raw.isspace():
        return [], False
    spans, pieces = _line_spans(raw)
    # Cleaned in one pass; cleaning never adds or removes "\n", so texts stay aligned with spans.
    texts = _clean_text("\n".join(pieces)).split("\n")
    if len(texts) != len(pieces):  # cannot happen; if it did, text matters more than layout
        return _plain_lines("\n".join(texts)), False
    if spans is None:
        spans = _crlf_spans(pieces)
    identity = pdfium_c.FPDFText_CountChars(textpage.raw) == len(raw)
    lines = _with_boxes(textpage, raw, spans, texts, identity=identity)
    if len(lines) < 2 * _COLUMN_MIN_LINES:
        return lines, False
    # Lines spread over the page, to look for rows merged across columns.
    samples = [spans[len(spans) * share // 4] for share in (1, 2, 3)] if identity else None
    return lines, _reads_across_columns(textpage, lines, samples)


def _reads_across_columns(
    textpage: pdfium.PdfTextPage, lines: Sequence[_Line], samples: Sequence[tuple[int, int]] | None
) -> bool:
    """True when the page stands in two columns and pdfium read rows across both.

    When the content stream runs column by column, pdfium's order is already right and the page
    needs no second reading.
    """
    # A line merged across the gutter holds two text runs (one per column) with the gutter
    # between them; unless some sampled line does, the page is spared fetching all its runs.
    raw_page = textpage.raw
    if samples is not None and not any(
        _has_gutter_gap(textpage, start, end - start) for start, end in samples
    ):
        return False
    runs = _COUNT_RECTS(raw_page, 0, -1)  # also makes the page's runs available to _text_runs
    if runs < len(lines) + _COLUMN_MIN_LINES:
        return False
    gutter = _column_gutter(_text_runs(textpage, runs))
    if gutter is None:
        return False
    across = sum(
        1
        for line in lines
        if line.box is not None and line.box.left < gutter[0] and line.box.right > gutter[1]
    )
    return across >= _COLUMN_MIN_LINES


def _line_spans(raw: str) -> tuple[list[tuple[int, int]] | None, list[str]]:
    """(start, end) and text of each visual line; a pdfium hyphenation mark ends a line and is
    kept. No spans when every line ends with CRLF: they follow from the lengths."""
    if _only_crlf_breaks(raw):
        return None, raw.split("\r\n")  # as pdfium writes its text, and much cheaper
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _LINE_BREAK.finditer(raw):
        is_mark = raw[match.start()] in "\ufffe\x02"
        spans.append((start, match.start() + 1 if is_mark else match.start()))
        start = match.end()
    spans.append((start, len(raw)))
    return spans, [raw[start:end] for start, end in spans]


def _crlf_spans(pieces: Sequence[str]) -> list[tuple[int, int]]:
    ends = list(itertools.accumulate(len(piece) + 2 for piece in pieces))
    return [(end - len(piece) - 2, end - 2) for end, piece in zip(ends, pieces, strict=True)]


def _only_crlf_breaks(raw: str) -> bool:
    if "\ufffe" in raw or "\x02" in raw:
        return False
    crlf = raw.count("\r\n")
    return raw.count("\r") == crlf and raw.count("\n") == crlf


def _with_boxes(
    textpage: pdfium.PdfTextPage,
    raw: str,
    spans: Sequence[tuple[int, int]],
    texts: Sequence[str],
    *,
    identity: bool,
) -> list[_Line]:
    """A line for each non-empty text, boxed from its first to its last visible character.

    `identity`: the text maps one to one onto pdfium's character list, as it usually does; when
    it does not (excluded or inserted characters), each index is translated, one more call.
    """
    raw_page = textpage.raw
    to_char_index = _CHAR_INDEX
    loose_box = _LOOSE_CHAR_BOX
    # Two FS_RECTF (left, top, right, bottom as floats) side by side, read with one slice: much
    # cheaper than eight structure fields.
    rects = (ctypes.c_float * 8)()
    first_ref, last_ref = (
        ctypes.byref(rects),
        ctypes.byref(rects, 4 * ctypes.sizeof(ctypes.c_float)),
    )
    new_box = tuple.__new__  # what _Box() and _Line() do, without their Python-level __new__
    lines: list[_Line] = []
    after_blank = False
    # This loop runs for every line of every page, hence the plain code.
    for (start, end), text in zip(spans, texts, strict=True):
        if not text:
            after_blank = bool(lines)
            continue
        first, last = start, end - 1
        if raw[first].isspace() or raw[last].isspace():
            segment = raw[start:end]
            first = start + len(segment) - len(segment.lstrip())
            last = start + len(segment.rstrip()) - 1
        if not identity:
            first = to_char_index(raw_page, first)
            last = to_char_index(raw_page, last)
            if first < 0 or last < 0:
                first = last = -1  # pdfium fails on -1: no box
        box = None
        if loose_box(raw_page, first, first_ref) and loose_box(raw_page, last, last_ref):
            left, top, _, bottom, _, last_top, right, last_bottom = rects[:]
            if last_bottom < bottom:
                bottom = last_bottom
            if last_top > top:
                top = last_top
            box = new_box(_Box, (left, bottom, right, top, top - bottom))
        lines.append(new_box(_Line, (text, box, after_blank)))
        after_blank = False
    return lines


def _has_gutter_gap(textpage: pdfium.PdfTextPage, start: int, count: int) -> bool:
    """Whether the text runs of these characters leave a gap far wider than a word space."""
    runs = _COUNT_RECTS(textpage.raw, start, count)
    if runs < 2:
        return False
    boxes = sorted(_text_runs(textpage, min(runs, 20)))
    for before, after in itertools.pairwise(boxes):
        height = max(before.height, after.height)
        same_row = after.bottom < before.top and before.bottom < after.top
        if same_row and after.left - before.right > max(8.0, 1.5 * height):
            return True
    return False


def _text_runs(textpage: pdfium.PdfTextPage, count: int) -> list[_Box]:
    # pdfium's text rectangles: one per run of text from one text object, finer than its lines,
    # which merge columns that share a baseline. These are the ones of the last count.
    raw_page = textpage.raw
    edges = (ctypes.c_double * 4)()  # left, top, right, bottom: pdfium's order
    size = ctypes.sizeof(ctypes.c_double)
    refs = [ctypes.byref(edges, i * size) for i in range(4)]
    get_rect = _TEXT_RECT
    new_box = tuple.__new__
    runs: list[_Box] = []
    for index in range(max(count, 0)):
        if get_rect(raw_page, index, *refs):
            left, top, right, bottom = edges[:]
            runs.append(new_box(_Box, (left, bottom, right, top, top - bottom)))
    return runs


def _column_gutter(rects: Sequence[_Box]) -> tuple[float, float] | None:
    """The gutter (left, right) when a clear vertical gap has substantial text on both sides,
    side by side; else None."""
    rects = [r for r in rects if r.right - r.left > 0.5 and r.height > 0.5]
    if len(rects) < 2 * _COLUMN_MIN_LINES:
        return None
    x_min = min(r.left for r in rects)
    x_max = max(r.right for r in rects)
    gutter = _widest_gutter(rects, x_min, x_max)
    if gutter is None:
        return None
    left = [r for r in rects if r.right <= gutter[0]]
    right = [r for r in rects if r.left >= gutter[1]]
    # Titles and abstracts may span both columns, but most text must keep to one side.
    spanning = len(rects) - len(left) - len(right)
    if spanning > 0.25 * len(rects):
        return None
    if _baseline_count(left) < _COLUMN_MIN_LINES or _baseline_count(right) < _COLUMN_MIN_LINES:
        return None
    return gutter if _vertical_overlap(left, right) >= 0.5 else None


def _widest_gutter(rects: Sequence[_Box], x_min: float, x_max: float) -> tuple[float, float] | None:
    width = x_max - x_min
    # Lines wider than a column would be headings or a single-column page; they are not where a
    # gutter is looked for, only counted against it afterwards.
    narrow = sorted((r.left, r.right) for r in rects if r.right - r.left < 0.55 * width)
    min_gap = max(6.0, 0.015 * width)
    best: tuple[float, float] | None = None
    covered_to = -math.inf
    for start, end in narrow:
        if covered_to != -math.inf and start - covered_to >= min_gap:
            centre = (start + covered_to) / 2
            in_middle = x_min + 0.2 * width <= centre <= x_max - 0.2 * width
            if in_middle and (best is None or start - covered_to > best[1] - best[0]):
                best = (covered_to, start)
        covered_to = max(covered_to, end)
    return best


def _baseline_count(rects: Iterable[_Box]) -> int:
    return len({round(r.bottom) for r in rects})


def _vertical_overlap(first: Sequence[_Box], second: Sequence[_Box]) -> float:
    low_a, high_a = min(r.bottom for r in first), max(r.top for r in first)
    low_b, high_b = min(r.bottom for r in second), max(r.top for r in second)
    overlap = min(high_a, high_b) - max(low_a, low_b)
    shorter = min(high_a - low_a, high_b - low_b)
    return overlap / shorter if shorter > 0 else 0.0


def _plain_lines(text: str) -> list[_Line]:
    """Lines of text without positions (OCR output); blank lines separate paragraphs."""
    lines: list[_Line] = []
    after_blank = False
    for line in _clean_text(text).split("\n"):
        if not line:
            after_blank = bool(lines)
            continue
        lines.append(_Line(line, starts_block=after_blank))
        after_blank = False
    return lines


# --- Column layouts with pdfminer --------------------------------------------------------------


def _read_columns_with_pdfminer(path: Path, pages: list[_RawPage], *, first: int = 0) -> None:
    """Replace the lines of two-column pages by pdfminer's column-by-column reading; `pages`
    start at the document's page index `first`."""
    wanted = {first + index for index, page in enumerate(pages) if page.two_columns}
    if not wanted:
        return
    for index, lines in _pdfminer_lines(path, wanted):
        # pdfminer walks the page tree itself; a malformed tree could shift its numbering, so
        # its reading is used only when it holds the same words as pdfium's.
        page = pages[index - first]
        if _same_words(page.lines, lines):
            page.lines = lines
        else:
            logger.info("pdfminer's reading of page %d disagrees with pdfium's", index + 1)


def _pdfminer_lines(path: Path, wanted: set[int]) -> Iterator[tuple[int, list[_Line]]]:
    # Imported here: it costs a fifth of a second and most documents never need it.
    from pdfminer.converter import PDFPageAggregator
    from pdfminer.layout import LAParams
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser

    last = max(wanted)
    try:
        with path.open("rb") as fh:
            document = PDFDocument(PDFParser(fh))
            manager = PDFResourceManager(caching=True)
            device = PDFPageAggregator(manager, laparams=LAParams())
            interpreter = PDFPageInterpreter(manager, device)
            for index, page in enumerate(PDFPage.create_pages(document)):
                if index > last:
                    break
                if index in wanted:
                    interpreter.process_page(page)
                    yield index, _layout_lines(device.get_result())
    # pdfminer is the second opinion: whatever it trips on, pdfium's reading stands.
    except Exception:
        logger.warning("pdfminer could not analyse the column layout", exc_info=True)


def _layout_lines(layout: LTPage) -> list[_Line]:
    from pdfminer.layout import LTTextBox, LTTextLine

    found: list[tuple[str, _Box, bool]] = []
    for element in layout:
        if not isinstance(element, LTTextBox):
            continue
        first = True
        for line in element:
            if isinstance(line, LTTextLine):
                text = _UNMAPPED_GLYPH.sub("", line.get_text().replace("\n", " "))
                found.append((text, _box(line.x0, line.y0, line.x1, line.y1), first))
                first = False
    texts = _clean_text("\n".join(text for text, _, _ in found)).split("\n")
    lines: list[_Line] = []
    for text, (_, box, first) in zip(texts, found, strict=True):
        if text:
            lines.append(_Line(text, box, starts_block=first and bool(lines)))
    return lines


def _same_words(expected: Sequence[_Line], candidate: Sequence[_Line]) -> bool:
    words = {w for line in expected for w in re.findall(r"\w{3,}", line.text)}
    if not words:
        return True
    found = {w for line in candidate for w in re.findall(r"\w{3,}", line.text)}
    return len(words & found) >= 0.8 * len(words)
