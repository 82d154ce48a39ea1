"""PDF files to pages of Markdown, with pdfium (fast) and pdfminer.six (column layouts).

For each document:

1. Open it with pdfium. Password-protected, damaged and over-long files fail with an
   `ExtractionError` whose message is safe to show; the page count is checked before any page is
   read.
2. Read each page's text with the position of every line. Pages whose text boxes stand in two
   columns are read again with pdfminer's layout analysis, because pdfium follows the content
   stream, which for such pages often runs row by row across both columns. Pages with images but
   no text layer are recognised with the `tesseract` binary when it is installed and allowed.
3. Drop running headers and footers: lines at the top or bottom of a page that, digits aside,
   repeat on most pages.
4. Clean the text (NFKC, control characters, hyphenation) and join lines into paragraphs using
   their positions: a gap, an indent, a change of size or a line that ends early starts a new one.
   Short, larger lines become `##` headings (the first one is the page title), bullets a list;
   all other text is escaped so that the Markdown renders as exactly that text.

One `ExtractedPage` per PDF page, except that a page longer than `limits.page_max_chars` is cut
into consecutive parts by `splitting.fit_markdown`, as other formats are (with a note). A
document without any text comes back as empty pages plus notes that say why; whether that is a
failure is for the service to decide.

The cover is page 1, drawn `_COVER_SIDE` pixels on its longest side (a few milliseconds) and
normalised by `cover.cover_from_image`. A first page that cannot be drawn, is blank, or holds
images larger than `limits.cover_max_pixels` gives no cover, never a failure.

Error codes: "empty", "not_pdf", "unreadable", "encrypted", "too_many_pages", "too_long".

A long document can be shared between processes (`isolation.PartedExtractor`): each reads a
range of pages (steps 1 and 2) and surveys them; what needs every page (the body text size, the
running lines of step 3, the words the document writes with a hyphen) is decided once from the
surveys; each share then finishes its pages (step 4) and the parts are joined. `extract` takes
the same steps in one process, so both give the same result. Only the share holding page 1 draws
the cover; it travels with that share's finished pages, in base64, and `combine` takes it from
there after checking that it is a JPEG.

pdfium is not thread-safe, so calls into it are serialised by a lock; run untrusted files through
`isolation.run_isolated`, which also gives each extraction its own process (or several).
"""

from __future__ import annotations

import ctypes
import enum
import io
import itertools
import logging
import math
import os
import re
import shutil
import struct
import subprocess
import threading
import unicodedata
import warnings
from collections.abc import Collection, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from document_processing.extractors.base import (
    ExtractedPage,
    ExtractionError,
    ExtractionLimits,
    ExtractionResult,
)
from document_processing.extractors.cover import (
    InvalidCoverError,
    cover_from_image,
    cover_from_json,
    cover_to_json,
)
from document_processing.extractors.splitting import fit_markdown
from document_processing.markdown import (
    escape_markdown,
    escape_markdown_line_starts,
    markdown_heading,
)

if TYPE_CHECKING:
    from pdfminer.layout import LTPage

logger = logging.getLogger(__name__)

MSG_EMPTY = "This file is empty."
MSG_NOT_PDF = "This file is not a PDF document."
MSG_DAMAGED = "This file could not be read as a PDF. It may be damaged or incomplete."
MSG_NO_PAGES = "This PDF has no pages."
MSG_ENCRYPTED = "This PDF is password protected. Remove the password and upload it again."
MSG_UNSUPPORTED_SECURITY = "This PDF is protected by a kind of encryption that cannot be read."

# pdfium accepts a header anywhere in the first kilobyte, so the sniff looks as far.
_HEADER_WINDOW = 1024
# Running headers and footers are only looked for when there are enough pages to see repetition.
_RUNNING_MIN_PAGES = 4
_RUNNING_MIN_REPEATS = 3
_RUNNING_EDGE_LINES = 2
_RUNNING_MAX_CHARS = 200
# The body text size is measured on this many pages at most, spread over the document.
_BODY_SAMPLE_PAGES = 64
# A document shorter than this is read by one process whatever the number of shares: a share
# of a few pages costs more to start than it saves.
_SHARED_MIN_PAGES = 16
# A column needs this many lines before a page counts as laid out in columns.
_COLUMN_MIN_LINES = 5
# OCR: 300 dpi as tesseract recommends, fewer for huge pages so the bitmap stays bounded.
_OCR_DPI = 300
_OCR_MAX_PIXELS = 40_000_000
_OCR_PAGE_TIMEOUT_SECONDS = 120.0
_OCR_LANGUAGE = re.compile(r"[A-Za-z0-9_]+(?:\+[A-Za-z0-9_]+)*")
# The cover: page 1 drawn this many pixels on its longest side, enough for a thumbnail or an
# audiobook's artwork and cheap to draw. A page with more images than this is not drawn.
_COVER_SIDE = 600
_COVER_MAX_IMAGES = 500
# JPEG and JPEG 2000 images are decoded at the size their data declares, whatever the image's
# dictionary says; JPEG 2000 also as many components as it declares.
_CODED_FILTERS = frozenset({"DCTDecode", "JPXDecode"})
# Filters that can stand before those and are undone to read their header: each gives less data
# than it takes, so undoing them is no bomb. (reportlab writes JPEGs in ASCII85.)
_TEXT_FILTERS = frozenset({"ASCII85Decode", "ASCIIHexDecode"})
_JPX_MAX_COMPONENTS = 4
_JPX_CODESTREAM = b"\xff\x4f\xff\x51"  # start of codestream, then its size segment (SIZ)

# pdfium replaces a hyphen it judges to be a line-end hyphenation with U+FFFE (older builds: \x02)
# and joins the two lines. Internally \x02 marks "word broken here"; the joiner decides whether
# the hyphen stays.
_BREAK_MARK = "\x02"
_LINE_BREAK = re.compile(r"[\ufffe\x02](?:\r\n|[\r\n])?|\r\n|[\r\n]")
_JUNK = re.compile(
    r"[\x00\x01\x03-\x08\x0b-\x1f\x7f-\x9f\u200b\u2060\ufeff\ufffd\uffff\ue000-\uf8ff]"
)
_UNMAPPED_GLYPH = re.compile(r"\(cid:\d+\)")  # pdfminer's stand-in for a glyph without Unicode
_SPACE_RUN = re.compile(r" {2,}")
_OTHER_SPACES = ("\t", "\u2028", "\u2029")  # NFKC has made every other space a plain one
_TRAILING_SOFT_HYPHEN = re.compile(r"\u00ad[ \t]*(?=\n|\Z)")
_BROKEN_WORD = re.compile(r"([^\W\d_]*)\x02(\w*)")
_HYPHENATED_WORD = re.compile(r"(?<![^\W\d_])[^\W\d_]+(?:-[^\W\d_]+)+")  # from a word's start
_BULLETS = frozenset("•●▪◦‣∙■□➢►✓*")
_LIST_STARTS = _BULLETS | frozenset("0123456789(")
_NUMBERED = re.compile(r"\(?(?:\d{1,3}|[a-z])[.)] ")
_SENTENCE_ENDS = tuple('.:;!?)"\u201d\u2019')  # closing quotes count
# "12", "- 12 -", "xiv", "page 3", "3 of 40", "3/40" (dashes: hyphen, en and em).
_PAGE_NUMBER = re.compile(
    r"[-\u2013\u2014\s]*(?:page\s*)?(?:\d+|[ivxlcdm]+)(?:\s*(?:of|/)\s*\d+)?[-\u2013\u2014\s]*"
)
_DIGITS = re.compile(r"\d+")
# What escape_markdown_inline and escape_markdown_line_starts act on (a test keeps these in step
# with them), to skip them on text without any.
_INLINE_MARKUP = tuple("\\`*_[]<>|~&")
_INLINE_SPECIALS = "\\`*_[]<>|~"
_ENTITY_LIKE = re.compile(r"&(?=#?[0-9A-Za-z]+;)")  # "&" is markup only as an entity
_LINE_START_MARKUP = frozenset("#>+=-0123456789")
_FILE_NAME_TITLE = re.compile(r"(?i).*\.(?:docx?|odt|rtf|pdf|tex|dvi|ps|indd|pages|pptx?|xlsx?)")
_PLACEHOLDERS = frozenset({"untitled", "anonymous", "unknown", "unspecified", "title", "author"})
_WORD_PROCESSOR_PREFIX = re.compile(r"(?i)^microsoft (?:word|powerpoint|excel) - ")

# pdfium keeps global state and must not be entered from two threads at once.
_PDFIUM_LOCK = threading.Lock()


def _new_lock_in_child() -> None:
    # A fork taken while another thread held the lock would leave the child waiting forever.
    global _PDFIUM_LOCK
    _PDFIUM_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_in_child)


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


@dataclass(slots=True)
class _Paragraph:
    text: str
    heading: bool = False


@dataclass(slots=True)
class _Notes:
    no_text_layer: list[int] = field(default_factory=list)
    ocr: list[int] = field(default_factory=list)
    ocr_failed: list[int] = field(default_factory=list)
    unreadable: list[int] = field(default_factory=list)
    split: list[tuple[int, int]] = field(default_factory=list)


class PdfExtractor:
    """Extracts a PDF page by page; see the module docstring for what it does and why.

    Also an `isolation.PartedExtractor`: `read_share`, `decide` and `combine` are the steps of
    `extract` for a document shared between processes.
    """

    name: ClassVar[str] = "pdf"
    # About 30 pages of text; smaller files are read by one process.
    parted_min_bytes: ClassVar[int] = 64 * 1024

    def extract(self, path: Path, *, limits: ExtractionLimits) -> ExtractionResult:
        share = self.read_share(path, limits=limits, part=0, parts=1)
        decision = self.decide([share.survey()], limits=limits)
        return self.combine([share.finish(decision)], limits=limits)

    def read_share(self, path: Path, *, limits: ExtractionLimits, part: int, parts: int) -> _Share:
        """Share `part` of `parts`: a range of pages, read and cleaned. Every share checks the
        file and its page count, so each fails as `extract` would."""
        _sniff(path)
        with _PDFIUM_LOCK:
            pdf = _open_document(path)
            try:
                page_count = len(pdf)
                if page_count > limits.max_pages:
                    raise ExtractionError(
                        f"This PDF has {page_count:,} pages; the limit is {limits.max_pages:,}.",
                        code="too_many_pages",
                    )
                title, author = _metadata(pdf) if part == 0 else ("", "")
                indices = _share_range(page_count, part, parts)
                raw_pages, chars_read = _read_pages(pdf, limits, indices)
                cover = _cover(pdf, limits) if part == 0 and page_count else b""
            finally:
                pdf.close()
        _read_columns_with_pdfminer(path, raw_pages, first=indices.start)
        return _Share(
            first=indices.start,
            page_count=page_count,
            pages=raw_pages,
            chars_read=chars_read,
            title=title,
            author=author,
            limits=limits,
            cover=cover,
        )

    def decide(self, surveys: list[Any], *, limits: ExtractionLimits) -> dict[str, Any]:
        return _decide(surveys, limits)

    def combine(self, finished: list[Any], *, limits: ExtractionLimits) -> ExtractionResult:
        return _combine(finished, limits)


def _share_range(page_count: int, part: int, parts: int) -> range:
    """The pages of share `part` of `parts`: consecutive, as many in each as can be; a short
    document is all in the first share, the others are empty."""
    if not 0 <= part < parts:
        raise ValueError(f"there is no share {part} of {parts}")
    if page_count < _SHARED_MIN_PAGES:
        return range(page_count) if part == 0 else range(page_count, page_count)
    return range(page_count * part // parts, page_count * (part + 1) // parts)


# --- Opening -----------------------------------------------------------------------------------


def _sniff(path: Path) -> None:
    with path.open("rb") as fh:
        head = fh.read(_HEADER_WINDOW)
    if not head:
        raise ExtractionError(MSG_EMPTY, code="empty")
    if b"%PDF-" not in head:
        raise ExtractionError(MSG_NOT_PDF, code="not_pdf")


def _open_document(path: Path) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        err_code = getattr(exc, "err_code", None)
        if err_code is None:  # pypdfium2 before 4.19 did not attach it
            err_code = pdfium_c.FPDF_GetLastError()
        raise _load_error(err_code) from exc


def _load_error(err_code: int) -> ExtractionError:
    if err_code == pdfium_c.FPDF_ERR_PASSWORD:
        return ExtractionError(MSG_ENCRYPTED, code="encrypted")
    if err_code == pdfium_c.FPDF_ERR_SECURITY:
        return ExtractionError(MSG_UNSUPPORTED_SECURITY, code="encrypted")
    if err_code == pdfium_c.FPDF_ERR_SUCCESS:  # it loaded, but the page tree is empty
        return ExtractionError(MSG_NO_PAGES, code="unreadable")
    return ExtractionError(MSG_DAMAGED, code="unreadable")


def _metadata(pdf: pdfium.PdfDocument) -> tuple[str, str]:
    title = _WORD_PROCESSOR_PREFIX.sub("", _clean_metadata(pdf.get_metadata_value("Title")))
    if _FILE_NAME_TITLE.fullmatch(title):
        title = ""  # a file name, not a title; the service knows the real file name
    author = _clean_metadata(pdf.get_metadata_value("Author"))
    return title, author


def _clean_metadata(value: str) -> str:
    value = " ".join(_clean_text(value).split())[:300]
    # Defaults that producers write when nobody filled the field in (reportlab, Word, LaTeX).
    return "" if value.lower() in _PLACEHOLDERS else value


# --- Reading pages -----------------------------------------------------------------------------


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


def _too_long(limits: ExtractionLimits) -> ExtractionError:
    return ExtractionError(
        f"This PDF has more text than allowed (more than {limits.max_chars:,} characters).",
        code="too_long",
    )


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


def _has_letters(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


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


# --- OCR ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Ocr:
    executable: str
    language: str

    @classmethod
    def find(cls, limits: ExtractionLimits) -> _Ocr | None:
        if not limits.ocr_enabled:
            return None
        executable = shutil.which("tesseract")
        if executable is None:
            return None
        if not _OCR_LANGUAGE.fullmatch(limits.ocr_language):
            logger.error("OCR language %r is not a tesseract language name", limits.ocr_language)
            return None
        return cls(executable, limits.ocr_language)

    def recognise(self, page: pdfium.PdfPage) -> str | None:
        """The page's text as tesseract reads it, or None when tesseract fails."""
        image = _render_png(page)
        # One thread: extraction runs beside other work; OpenMP's default would take every core.
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        command = [self.executable, "stdin", "stdout", "-l", self.language]
        try:
            # The executable comes from PATH and the arguments are fixed or validated above.
            completed = subprocess.run(  # noqa: S603
                command,
                input=image,
                capture_output=True,
                timeout=_OCR_PAGE_TIMEOUT_SECONDS,
                env=env,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            logger.warning("tesseract did not finish", exc_info=True)
            return None
        if completed.returncode != 0:
            stderr = completed.stderr.decode("utf-8", "replace")[:500]
            logger.warning("tesseract failed (%d): %s", completed.returncode, stderr)
            return None
        return completed.stdout.decode("utf-8", "replace")


def _render_png(page: pdfium.PdfPage) -> bytes:
    width, height = page.get_size()
    scale = min(_OCR_DPI / 72, math.sqrt(_OCR_MAX_PIXELS / max(width * height, 1.0)))
    bitmap = page.render(scale=scale, grayscale=True)
    try:
        buffer = io.BytesIO()
        # Fast compression: the PNG only travels through a pipe.
        bitmap.to_pil().save(buffer, format="PNG", compress_level=1)
        return buffer.getvalue()
    finally:
        bitmap.close()


# --- Cover -------------------------------------------------------------------------------------


def _cover(pdf: pdfium.PdfDocument, limits: ExtractionLimits) -> bytes:
    """Page 1 drawn as a cover, or b"" when it cannot be drawn or shows nothing."""
    try:
        page = pdf[0]
    except pdfium.PdfiumError:
        return b""
    try:
        width, height = page.get_size()
        if not (width > 0 and height > 0):  # also false for NaN
            return b""
        scale = min(_COVER_SIDE, limits.cover_max_side) / max(width, height)
        if min(width, height) * scale < 1 or not _cover_images_allowed(page, limits):
            return b""
        bitmap = page.render(scale=scale, may_draw_forms=False)
        try:
            # A blank first page gives none: cover_from_image refuses single-colour images.
            # The image shares the bitmap's memory, so it is used before the bitmap is closed.
            return cover_from_image(bitmap.to_pil(), limits=limits)
        finally:
            bitmap.close()
    except pdfium.PdfiumError:
        logger.info("PDF page 1 could not be drawn as a cover", exc_info=True)
        return b""
    finally:
        page.close()


def _cover_images_allowed(page: pdfium.PdfPage, limits: ExtractionLimits) -> bool:
    """Whether the images that drawing the page decodes stay within `cover_max_pixels`, all
    together, by their declared sizes. Text extraction decodes no image; drawing the page must
    not let a huge one fail (run out of memory) a document that reads well."""
    pixels = 0.0
    images = page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,))
    for count, image in enumerate(images, start=1):
        pixels += _image_pixels(image)
        if pixels > limits.cover_max_pixels or count > _COVER_MAX_IMAGES:
            logger.info("PDF page 1 has too many or too large images to be drawn as a cover")
            return False
    return True


def _image_pixels(image: pdfium.PdfImage) -> float:
    """How many pixels drawing `image` decodes at most; infinite when that cannot be told."""
    width, height = image.get_px_size()
    pixels = max(width, 0) * max(height, 0)
    filters = image.get_filters()
    coded = [name for name in filters if name in _CODED_FILTERS]
    if not coded:
        return pixels  # pdfium decodes these to the dictionary's size, and no further
    if len(coded) != 1 or filters[-1] != coded[0] or not _TEXT_FILTERS.issuperset(filters[:-1]):
        return math.inf  # compressed again: its header cannot be read without inflating it
    # pdfium undoes the filters before the image's own, here only the text ones.
    data = bytes(image.get_data(decode_simple=True))
    size = _jpeg_size(data) if coded[0] == "DCTDecode" else _jpx_size(data)
    return math.inf if size is None else max(pixels, size)


def _jpeg_size(data: bytes) -> int | None:
    """Width times height as a JPEG's frame header declares them, or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=("JPEG",)) as jpeg:  # headers only
                width, height = jpeg.size
    except Exception:  # anything Pillow cannot read, pdfium is not asked to draw either
        return None
    return width * height


def _jpx_size(data: bytes) -> int | None:
    """Width times height as a JPEG 2000 codestream's size segment declares them, or None
    when it declares more components than an image has or cannot be read."""
    start = _jpx_codestream(data)
    if start is None or data[start : start + 4] != _JPX_CODESTREAM:
        return None
    try:
        x_end, y_end, x_origin, y_origin = struct.unpack_from(">4I", data, start + 8)
        (components,) = struct.unpack_from(">H", data, start + 40)
    except struct.error:
        return None
    if components > _JPX_MAX_COMPONENTS:
        return None
    return max(x_end - x_origin, 0) * max(y_end - y_origin, 0)


def _jpx_codestream(data: bytes) -> int | None:
    """Where the codestream starts: at once, or in the "jp2c" box of a JP2 file."""
    if data.startswith(_JPX_CODESTREAM):
        return 0
    position = 0
    while position + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        header = 8
        if length == 1 and position + 16 <= len(data):  # a 64-bit length follows
            (length,) = struct.unpack_from(">Q", data, position + 8)
            header = 16
        elif length == 0:  # the box runs to the end
            length = len(data) - position
        if kind == b"jp2c":
            return position + header
        if length < header:
            return None
        position += length
    return None


# --- Cleaning ----------------------------------------------------------------------------------


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


# --- Running headers and footers ---------------------------------------------------------------


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


# --- Paragraphs --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Metrics:
    body_height: float  # the line height of most of the document's text
    pitch: float  # median distance between baselines of consecutive body lines; 0 when unknown

    @classmethod
    def of(cls, lines: Sequence[_Line], body_height: float) -> _Metrics:
        low, high = 0.8 * body_height, 3 * body_height
        bottoms = [line.box.bottom for line in lines if line.box is not None]
        steps = [a - b for a, b in itertools.pairwise(bottoms) if low < a - b < high]
        return cls(body_height, _median(steps) if steps else 0.0)


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0


def _body_sample_step(page_count: int) -> int:
    """The body text size is measured on every step-th page (from the first): the whole
    document, or pages spread over it, which tell as much."""
    return max(1, page_count // _BODY_SAMPLE_PAGES)


def _count_heights(lines: Iterable[_Line], chars_by_height: dict[float, int]) -> None:
    # Few distinct heights: counting them is cheaper than sorting lines.
    for line in lines:
        if line.box is not None:
            height = line.box.height
            chars_by_height[height] = chars_by_height.get(height, 0) + len(line.text)


def _median_height(chars_by_height: dict[float, int]) -> float:
    """The line height of the document's body text: the height in the middle of all the text,
    counted in characters rather than lines. Taken over the whole document, so that a page of
    small print does not turn its ordinary sentences into headings."""
    half = sum(chars_by_height.values()) / 2
    seen = 0
    for height, chars in sorted(chars_by_height.items()):
        seen += chars
        if seen >= half:
            return height
    return 0.0


def _is_larger(line: _Line, body_height: float) -> bool:
    return line.box is not None and body_height > 0 and line.box.height > 1.2 * body_height


def _is_larger_height(height: float | None, body_height: float) -> bool:
    """_is_larger for a line of this height (None: a line without a box)."""
    return height is not None and body_height > 0 and height > 1.2 * body_height


def _paragraphs(
    lines: Sequence[_Line], metrics: _Metrics, hyphenated: Container[str]
) -> list[_Paragraph]:
    groups: list[list[_Line]] = []
    if lines:
        groups.append([lines[0]])
    pitch = metrics.pitch
    for prev, line, right_margin in zip(lines, lines[1:], _right_margins(lines), strict=False):
        text = line.text
        # Inline and cheapest first: this runs for every line.
        if (
            line.starts_block
            or ((text[0] in _LIST_STARTS or text[1:2] in (".", ")")) and _starts_list(prev, text))
            or (
                prev.box is not None
                and line.box is not None
                and _layout_break(prev.text, prev.box, text, line.box, pitch, right_margin)
            )
        ):
            groups.append([line])
        else:
            groups[-1].append(line)
    return [_paragraph(group, metrics, hyphenated) for group in groups]


def _right_margins(lines: Sequence[_Line]) -> list[float]:
    """For each line, where the lines of its column usually end: a high quantile, not the
    maximum, so that one wide formula does not make every other line look short.

    A column is a run of lines down the page: it ends where the source starts a block or the
    next line goes back up (the next column).
    """
    margins: list[float] = []
    column: list[_Line] = []
    above: _Box | None = None
    for line in lines:
        below = line.box
        goes_up = (
            above is not None
            and below is not None
            and below.bottom > above.bottom + 0.5 * above.height
        )
        if column and (line.starts_block or goes_up):
            margins.extend(_column_margin(column))
            column = []
        column.append(line)
        above = below
    margins.extend(_column_margin(column))
    return margins


def _column_margin(column: Sequence[_Line]) -> list[float]:
    rights = sorted([line.box.right for line in column if line.box is not None])
    if len(rights) >= 5:
        margin = rights[int(0.8 * (len(rights) - 1))]
    else:
        margin = rights[-1] if rights else 0.0
    return [margin] * len(column)


def _is_bullet(text: str) -> bool:
    return text[0] in _BULLETS and text[1:2] == " "


def _is_numbered(text: str) -> bool:
    # Checked by hand first: this runs for every line and the pattern rarely applies.
    first = text[0]
    return (first.isdigit() or first == "(" or text[1:2] in (".", ")")) and bool(
        _NUMBERED.match(text)
    )


def _starts_list(prev: _Line, text: str) -> bool:
    if _is_bullet(text):
        return True
    # "2. " starting a wrapped line is common enough that a list needs the line before to end.
    return _is_numbered(text) and prev.text.endswith(_SENTENCE_ENDS)


def _layout_break(
    prev_text: str, above: _Box, text: str, below: _Box, pitch: float, right_margin: float
) -> bool:
    # Runs for every line: plain arithmetic on unpacked boxes.
    above_left, above_bottom, above_right, _, above_height = above
    below_left, below_bottom, _, _, below_height = below
    height = above_height if above_height > below_height else below_height
    if below_bottom > above_bottom + 0.5 * height:
        return True  # back up the page: a new column or region
    if abs(above_height - below_height) > 0.2 * height:
        return True  # a change of size: heading to body or body to footnote
    if pitch and above_bottom - below_bottom > 1.3 * pitch + 0.1 * height:
        return True  # extra space between lines
    if prev_text[-1] in "-\x02":
        return False  # a word continues on the next line
    char_width = (above_right - above_left) / len(prev_text)
    next_word = text.find(" ")
    if next_word < 0:
        next_word = len(text)
    if right_margin - above_right > (next_word + 2) * char_width:
        return True  # the next word would have fitted: the line ended on purpose
    indent = below_left - above_left
    if not 1.5 * char_width < indent < 15 * char_width:
        return False
    return not (_is_bullet(prev_text) or _is_numbered(prev_text))  # a first-line indent


def _paragraph(group: Sequence[_Line], metrics: _Metrics, hyphenated: Container[str]) -> _Paragraph:
    text = _join_lines([line.text for line in group], hyphenated)
    heading = (
        len(group) <= 2
        and len(text) <= 150
        and all(_is_larger(line, metrics.body_height) for line in group)
    )
    return _Paragraph(text, heading=heading)


def _join_lines(texts: Sequence[str], hyphenated: Container[str]) -> str:
    parts: list[str] = []
    for text in texts:
        if not parts or parts[-1].endswith(_BREAK_MARK):
            parts.append(text)
        elif parts[-1].endswith("-") and parts[-1][-2:-1].isalpha():
            parts[-1] = parts[-1][:-1] + _BREAK_MARK
            parts.append(text)
        else:
            parts.extend((" ", text))
    joined = "".join(parts)
    if _BREAK_MARK not in joined:
        return joined
    joined = _BROKEN_WORD.sub(lambda m: _mend(m[1], m[2], hyphenated), joined)
    return joined.replace(_BREAK_MARK, "-")


def _mend(head: str, tail: str, hyphenated: Container[str]) -> str:
    """Join a word broken at a line end, keeping the hyphen where it belongs to the word."""
    if not head or not tail or not tail[0].islower():
        return f"{head}-{tail}"  # "COVID-19", "Jean-Pierre", or nothing to join
    if f"{head}-{tail}".lower() in hyphenated:
        return f"{head}-{tail}"  # the document writes it with a hyphen elsewhere
    return head + tail


def _hyphenated_words(text: str) -> list[str]:
    """The words of a line written with a hyphen, in lower case: when a word broken at a line
    end is written with a hyphen elsewhere in the document, the hyphen stays."""
    return [found.lower() for found in _HYPHENATED_WORD.findall(text)]


def _markdown(paragraphs: Sequence[_Paragraph]) -> str:
    """The page as Markdown that renders as its text: escaped, with headings and bullets."""
    texts = [paragraph.text for paragraph in paragraphs]
    joined = "\n\n".join(texts)
    # Most pages hold none of these characters, and looking for each is much cheaper than the
    # escaping pattern; when there are some, one pass for the page (paragraphs hold no newline).
    if any(char in joined for char in _INLINE_MARKUP):
        texts = _escape_inline(joined).split("\n\n")
    return "\n\n".join(
        _paragraph_markdown(paragraph, text)
        for paragraph, text in zip(paragraphs, texts, strict=True)
    )


def _escape_inline(text: str) -> str:
    """What markdown.escape_markdown_inline returns (a test holds them equal), by plain
    replacements: its pattern calls back into Python for every match, which on a page of code
    (an underscore in every name) costs about as much as reading the page."""
    for char in _INLINE_SPECIALS:  # the backslash first, so no added one is escaped again
        if char in text:
            text = text.replace(char, f"\\{char}")
    if "&" in text:
        text = _ENTITY_LIKE.sub(r"\\&", text)
    return text


def _paragraph_markdown(paragraph: _Paragraph, escaped: str) -> str:
    if paragraph.heading:
        return markdown_heading(escaped, 2)
    if _is_bullet(paragraph.text):
        return f"- {escape_markdown(paragraph.text[2:])}"
    if escaped[0] in _LINE_START_MARKUP:  # a paragraph's only line start is its first character
        return escape_markdown_line_starts(escaped)
    return escaped


# --- Assembly ----------------------------------------------------------------------------------


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
