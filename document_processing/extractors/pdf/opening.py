"""Opening a PDF: the header sniff, pdfium's open with its errors (a password among them), the
document's title and author, and pdfminer.six for a file pdfium refuses.

pdfium is not thread-safe, so calls into it are serialised by `_PDFIUM_LOCK` (looked up here
at every use: a forked child replaces it).
"""

from __future__ import annotations

import codecs
import itertools
import logging
import os
import re
import threading
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from document_processing.extractors.base import ExtractionError, ExtractionLimits
from document_processing.extractors.pdf.errors import (
    MSG_DAMAGED,
    MSG_EMPTY,
    MSG_ENCRYPTED,
    MSG_NO_PAGES,
    MSG_NOT_PDF,
    MSG_UNSUPPORTED_SECURITY,
    _too_long,
)
from document_processing.extractors.pdf.lines import _clean_text, _has_letters, _RawPage, _Source
from document_processing.extractors.pdf.reading import _layout_lines
from document_processing.extractors.pdf.shares import _Share, _share_range

logger = logging.getLogger(__name__)


# pdfium accepts a header anywhere in the first kilobyte, so the sniff looks as far.
_HEADER_WINDOW = 1024

_FILE_NAME_TITLE = re.compile(r"(?i).*\.(?:docx?|odt|rtf|pdf|tex|dvi|ps|indd|pages|pptx?|xlsx?)")
_PLACEHOLDERS = frozenset({"untitled", "anonymous", "unknown", "unspecified", "title", "author"})
_WORD_PROCESSOR_PREFIX = re.compile(r"(?i)^microsoft (?:word|powerpoint|excel) - ")

# pypdfium2 decodes metadata as UTF-16: its codec is looked up here, in the parent, once, rather
# than imported by every forked child that reads a title (about 2 ms, nearly all of the reading).
codecs.lookup("utf-16-le")

# pdfium keeps global state and must not be entered from two threads at once.
_PDFIUM_LOCK = threading.Lock()


def _new_lock_in_child() -> None:
    # A fork taken while another thread held the lock would leave the child waiting forever.
    global _PDFIUM_LOCK
    _PDFIUM_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_in_child)


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


def _read_share_with_pdfminer(
    path: Path, limits: ExtractionLimits, *, part: int, parts: int, refused: ExtractionError
) -> _Share:
    """Share `part` of `parts` read by pdfminer.six, for a file pdfium refuses (a page tree it
    cannot find, a security handler it does not support, say): each page's text lines from
    pdfminer's layout analysis, under the same page and character limits; no OCR and no cover.
    A file pdfminer cannot read either fails with pdfium's error, `refused`, unless pdfminer
    finds that it needs a password. (pdfium's password error is asked again because pdfium
    does not reset its last error on every failure: within one process it can be stale.)
    """
    from pdfminer.converter import PDFPageAggregator
    from pdfminer.layout import LAParams
    from pdfminer.pdfdocument import PDFDocument, PDFPasswordIncorrect
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser
    from pdfminer.pdftypes import resolve1
    from pdfminer.utils import decode_text

    def info(document: PDFDocument, key: str) -> str:
        entries = [entry for entry in document.info if isinstance(entry, dict)]
        value = next((resolve1(entry[key]) for entry in entries if key in entry), "")
        return _clean_metadata(decode_text(value) if isinstance(value, bytes) else "")

    try:
        with path.open("rb") as fh:
            document = PDFDocument(PDFParser(fh))
            pages = list(itertools.islice(PDFPage.create_pages(document), limits.max_pages + 1))
            if len(pages) > limits.max_pages:
                raise ExtractionError(
                    f"This PDF has more than {limits.max_pages:,} pages, the most we can read.",
                    code="too_many_pages",
                )
            if not pages:
                raise refused
            indices = _share_range(len(pages), part, parts)
            manager = PDFResourceManager(caching=True)
            device = PDFPageAggregator(manager, laparams=LAParams())
            interpreter = PDFPageInterpreter(manager, device)
            raw_pages: list[_RawPage] = []
            chars_read = 0
            for index in indices:
                try:
                    interpreter.process_page(pages[index])
                    lines = _layout_lines(device.get_result())
                except MemoryError:
                    raise
                except Exception:  # one damaged page: the others are still read
                    logger.info("pdfminer could not read PDF page %d", index + 1, exc_info=True)
                    raw_pages.append(_RawPage([], _Source.UNREADABLE))
                    continue
                chars_read += sum(len(line.text) for line in lines)
                if chars_read > limits.max_chars:
                    raise _too_long(limits)
                has_text = any(_has_letters(line.text) for line in lines)
                raw_pages.append(_RawPage(lines, _Source.TEXT if has_text else _Source.BLANK))
            title, author = (
                (info(document, "Title"), info(document, "Author")) if not part else ("", "")
            )
    except (ExtractionError, MemoryError):
        raise
    except PDFPasswordIncorrect as error:
        raise ExtractionError(MSG_ENCRYPTED, code="encrypted") from error
    except Exception as error:  # pdfminer could not read it either: pdfium's verdict stands
        logger.info("pdfminer could not read a PDF that pdfium refused", exc_info=True)
        raise refused from error
    logger.info("PDF read with pdfminer after pdfium refused it")
    return _Share(
        first=indices.start,
        page_count=len(pages),
        pages=raw_pages,
        chars_read=chars_read,
        title=title,
        author=author,
        limits=limits,
    )


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
