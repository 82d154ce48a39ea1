"""From a stored original to page rows: picking the extractor, limits from settings, page text.

No database here: `services.extract_document` does the reading and writing around it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from core.safe_fetch import FetchError, FetchPolicy, fetch_url
from document_processing.extractors.base import (
    ExtractedPage,
    ExtractionError,
    ExtractionLimits,
    ExtractionResult,
)
from document_processing.extractors.isolation import run_isolated
from document_processing.extractors.registry import DEFAULT_EXTRACTORS, get_extractor
from document_processing.markdown import markdown_to_text

logger = logging.getLogger(__name__)

# Media types a fetched web page may have, and the extractor for each.
URL_MEDIA_TYPES = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/plain": "text",
    "text/markdown": "markdown",
}


@dataclass(frozen=True)
class PageData:
    number: int
    title: str
    markdown: str
    text: str

    @property
    def char_count(self) -> int:
        return len(self.text)


@dataclass(frozen=True)
class ExtractedDocument:
    pages: list[PageData]
    title: str
    author: str
    notes: list[str]
    cover: bytes = b""  # a JPEG the isolated child made, or nothing

    @property
    def char_count(self) -> int:
        return sum(page.char_count for page in self.pages)


def extraction_limits() -> ExtractionLimits:
    return ExtractionLimits(
        max_pages=settings.DOCUMENT_MAX_PAGES,
        max_chars=settings.DOCUMENT_MAX_CHARS,
        page_max_chars=settings.PAGE_MAX_CHARS,
        max_uncompressed_bytes=settings.ARCHIVE_MAX_UNCOMPRESSED_BYTES,
        max_compression_ratio=settings.ARCHIVE_MAX_COMPRESSION_RATIO,
        memory_limit_bytes=settings.EXTRACTION_MEMORY_LIMIT_MB * 1024 * 1024,
        timeout_seconds=float(settings.EXTRACTION_TIMEOUT_SECONDS),
        ocr_enabled=settings.OCR_ENABLED,
        ocr_language=settings.OCR_LANGUAGE,
    )


def fetch_policy() -> FetchPolicy:
    return FetchPolicy(
        max_bytes=settings.URL_IMPORT_MAX_BYTES,
        timeout_seconds=settings.URL_IMPORT_TIMEOUT_SECONDS,
        allowed_content_types=frozenset(URL_MEDIA_TYPES),
        allow_loopback=settings.URL_IMPORT_ALLOW_LOOPBACK,
    )


@dataclass(frozen=True)
class FetchedSource:
    kind: str
    body: bytes
    title_hint: str


def fetch_source(url: str) -> FetchedSource:
    """Fetch a web page for import (SSRF-safe); raises ExtractionError with a user message."""
    try:
        page = fetch_url(url, policy=fetch_policy())
    except FetchError as exc:
        raise ExtractionError(exc.user_message, code=exc.code) from exc
    body = page.body
    if page.charset and page.charset.lower() not in ("utf-8", "utf8"):
        # Extractors read UTF-8; re-encode what the site declared.
        try:
            body = page.body.decode(page.charset, errors="replace").encode("utf-8")
        except LookupError:
            body = page.body
    return FetchedSource(kind=URL_MEDIA_TYPES[page.content_type], body=body, title_hint=page.url)


def extract_file(path: Path, *, kind: str) -> ExtractedDocument:
    """Run the extractor for `kind` on `path` in an isolated child process."""
    try:
        extractor = get_extractor(
            kind, registry={**DEFAULT_EXTRACTORS, **settings.DOCUMENT_EXTRACTORS}
        )
    except LookupError as exc:
        raise ExtractionError(_("This type of file is not supported.")) from exc
    limits = extraction_limits()
    result = run_isolated(
        extractor, path, limits=limits, workers=settings.EXTRACTION_WORKERS or None
    )
    return finish(result, limits=limits)


def finish(result: ExtractionResult, *, limits: ExtractionLimits) -> ExtractedDocument:
    """Derive speech text, drop empty trailing noise, and hold the document to its limits."""
    pages = [_page_data(number, page) for number, page in enumerate(result.pages, start=1)]
    if len(pages) > limits.max_pages:
        raise ExtractionError(
            _("This document has %(count)d pages; the limit is %(limit)d.")
            % {"count": len(pages), "limit": limits.max_pages},
            code="too_many_pages",
        )
    document = ExtractedDocument(
        pages=pages,
        title=result.title.replace("\x00", "").strip()[:300],
        author=result.author.replace("\x00", "").strip()[:300],
        notes=list(result.notes),
        cover=result.cover,
    )  # fmt: skip
    if document.char_count > limits.max_chars:
        raise ExtractionError(
            _("This document has more than %(limit)d characters of text.")
            % {"limit": limits.max_chars},
            code="too_many_characters",
        )
    if not pages or document.char_count == 0:
        raise ExtractionError(
            _("No readable text was found in this document."), code="empty_document"
        )
    return document


def _page_data(number: int, page: ExtractedPage) -> PageData:
    # PostgreSQL text columns cannot hold NUL; no reader needs it.
    markdown = page.markdown.replace("\x00", "").strip()
    return PageData(
        number=number,
        title=page.title.replace("\x00", "").strip()[:300],
        markdown=markdown,
        text=markdown_to_text(markdown),
    )


def page_from_markdown(markdown: str, *, number: int) -> PageData:
    """A page a person wrote or edited: the same derivation as extracted pages."""
    return _page_data(number, ExtractedPage(markdown=markdown, title=_first_heading(markdown)))


def _first_heading(markdown: str) -> str:
    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            return stripped.lstrip("#").strip()[:300]
        if stripped:
            break
    return ""
