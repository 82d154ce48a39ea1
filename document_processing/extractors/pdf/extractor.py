"""`PdfExtractor`: the steps of the package, in order, for one process or for shares."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pypdfium2 as pdfium

from document_processing.extractors.base import ExtractionError, ExtractionLimits, ExtractionResult
from document_processing.extractors.pdf import opening, warm_up
from document_processing.extractors.pdf.cover import _cover
from document_processing.extractors.pdf.opening import (
    _metadata,
    _open_document,
    _read_share_with_pdfminer,
    _sniff,
)
from document_processing.extractors.pdf.reading import _read_columns_with_pdfminer, _read_pages
from document_processing.extractors.pdf.shares import _combine, _decide, _Share, _share_range


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
        try:
            with opening._PDFIUM_LOCK:
                pdf = _open_document(path)
        except ExtractionError as refused:
            if refused.code not in ("unreadable", "encrypted"):
                raise
            return _read_share_with_pdfminer(path, limits, part=part, parts=parts, refused=refused)
        share = _read_open_share(pdf, limits=limits, part=part, parts=parts)
        _read_columns_with_pdfminer(path, share.pages, first=share.first)
        return share

    def warm_up(self, *, limits: ExtractionLimits) -> None:
        """Read a page of our own (`warm_up`) as a document is read, but from memory, as a
        fork server's spare child does before it is given a file (`forkserver`)."""
        with opening._PDFIUM_LOCK:
            pdf = pdfium.PdfDocument(warm_up.SAMPLE)
        share = _read_open_share(pdf, limits=limits, part=0, parts=1)
        decision = self.decide([share.survey()], limits=limits)
        self.combine([share.finish(decision)], limits=limits)

    def decide(self, surveys: list[Any], *, limits: ExtractionLimits) -> dict[str, Any]:
        return _decide(surveys, limits)

    def combine(self, finished: list[Any], *, limits: ExtractionLimits) -> ExtractionResult:
        return _combine(finished, limits)


def _read_open_share(
    pdf: pdfium.PdfDocument, *, limits: ExtractionLimits, part: int, parts: int
) -> _Share:
    """Share `part` of `parts` of a document pdfium has opened (and is closed here), but for
    pdfminer's reading of pages in columns, which needs the file."""
    with opening._PDFIUM_LOCK:
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
