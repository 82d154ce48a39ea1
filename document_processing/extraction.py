"""From a stored original to page rows: picking the extractor, limits from settings, page text.

No database here: `services.extract_document` does the reading and writing around it.
"""

from __future__ import annotations

import codecs
import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from core.safe_fetch import FetchError, FetchPolicy, fetch_url
from document_processing.contents import looks_like_contents
from document_processing.extractors.base import (
    ExtractedPage,
    ExtractionError,
    ExtractionLimits,
    ExtractionResult,
)
from document_processing.extractors.charsets import decode_bytes
from document_processing.extractors.isolation import run_isolated
from document_processing.extractors.registry import DEFAULT_EXTRACTORS, get_extractor
from document_processing.extractors.splitting import parse_blocks
from document_processing.language import detect, document_languages, is_known, load_model
from document_processing.markdown import first_words, markdown_to_text

logger = logging.getLogger(__name__)

# The longest title a page, or a document, keeps.
_MAX_TITLE = 300

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
    # A table of contents: kept for reading, passed over when listening.
    contents: bool = False
    language: str = ""  # BCP 47; "" until detected

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
    language: str = ""  # BCP 47; "" when no page says enough to tell

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
    kind = URL_MEDIA_TYPES[page.content_type]
    # Decoded here, where the HTTP charset is known (it comes before the page's own <meta>), and
    # kept as UTF-8 with a byte order mark, which every later reading of the original obeys.
    text = decode_bytes(page.body, declared=page.charset, markup=kind == "html").text
    body = codecs.BOM_UTF8 + text.encode("utf-8")
    return FetchedSource(kind=kind, body=body, title_hint=page.url)


def extract_file(
    path: Path, *, kind: str, fork_server: bool = False, languages: bool = True
) -> ExtractedDocument:
    """Run the extractor for `kind` on `path` in an isolated child process.

    `fork_server`: for a process that extracts one document after another (a worker): the
    child is forked, and warmed up, ahead by a small server process (`extractors.forkserver`)
    rather than forked from this one when the document comes.

    `languages`: detect the document's language and each page's (else they are ""), for a
    caller that speaks every page in a voice it was given (`pagecast convert`) and need not
    load the detector."""
    try:
        extractor = get_extractor(
            kind, registry={**DEFAULT_EXTRACTORS, **settings.DOCUMENT_EXTRACTORS}
        )
    except LookupError as exc:
        raise ExtractionError(_("This type of file is not supported.")) from exc
    limits = extraction_limits()
    result = run_isolated(
        extractor,
        path,
        limits=limits,
        workers=settings.EXTRACTION_WORKERS or None,
        fork_server=fork_server,
        describer=SpokenPages(languages=languages),
    )
    return finish(result, limits=limits, languages=languages)


class SpokenPages:
    """What `finish` derives of each page (its title, spoken text, contents mark and detected
    language), worked out by the children that share a long document (an
    `isolation.PageDescriber`): each for its own pages, at the same time as the others, rather
    than by this process once they have all answered. `finish` checks what they send.
    `languages`: detect each page's language (else "")."""

    def __init__(self, *, languages: bool = True) -> None:
        self.languages = languages

    def prepare(self) -> None:
        if self.languages:
            load_model()

    def describe(self, page: ExtractedPage) -> list[Any]:
        data = _page_data(0, page)
        # A page of prose is read as it is written: its text is not sent twice.
        text = None if data.text == data.markdown else data.text
        language = detect(data.text).language if self.languages else ""
        return [data.title, text, data.contents, language]


def finish(
    result: ExtractionResult, *, limits: ExtractionLimits, languages: bool = True
) -> ExtractedDocument:
    """Derive speech text, drop empty trailing noise, and hold the document to its limits;
    `languages`: and detect the languages (see `extract_file`)."""
    pages, detected = _pages(result, languages=languages)
    if len(pages) > limits.max_pages:
        raise ExtractionError(
            _("This document has %(count)d pages; the limit is %(limit)d.")
            % {"count": len(pages), "limit": limits.max_pages},
            code="too_many_pages",
        )
    document = ExtractedDocument(
        pages=pages,
        title=result.title.replace("\x00", "").strip()[:_MAX_TITLE],
        author=result.author.replace("\x00", "").strip()[:_MAX_TITLE],
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
    if not languages:
        return document
    return with_languages(document, declared=result.language, detected=detected)


def with_languages(
    document: ExtractedDocument, *, declared: str = "", detected: list[str] | None = None
) -> ExtractedDocument:
    """The document with its language and each page's detected from their spoken text (the one
    its source declares is kept unless the text says otherwise). `detected`: each page's
    detected language, when it is known already."""
    language, page_languages = document_languages(
        [page.text for page in document.pages], declared=declared, detected=detected
    )
    pages = [
        dataclasses.replace(page, language=page_language)
        for page, page_language in zip(document.pages, page_languages, strict=True)
    ]
    return dataclasses.replace(document, pages=pages, language=language)


def _pages(result: ExtractionResult, *, languages: bool) -> tuple[list[PageData], list[str] | None]:
    """The result's pages, with each one's detected language when its children described them
    (`SpokenPages`); a description that is not one `SpokenPages` could have made is not used,
    and that page is derived here."""
    numbered = enumerate(result.pages, start=1)
    if result.descriptions is None:
        return [_page_data(number, page) for number, page in numbered], None
    pages: list[PageData] = []
    detected: list[str] = []
    refused = 0
    for (number, page), description in zip(numbered, result.descriptions, strict=True):
        described = _described_page(number, page, description)
        if described is None:
            refused += 1
            data = _page_data(number, page)
            described = data, detect(data.text).language if languages else ""
        pages.append(described[0])
        detected.append(described[1])
    if refused:
        logger.warning("%d pages were described wrongly by the extraction; derived again", refused)
    return pages, detected


def _described_page(
    number: int, page: ExtractedPage, description: Any
) -> tuple[PageData, str] | None:
    match description:
        case [str(title), (str() | None) as text, bool(contents), str(language)]:
            markdown = _clean(page.markdown)
            text = markdown if text is None else text
            if len(title) > _MAX_TITLE or "\x00" in title or "\x00" in text:
                return None
            if language and not is_known(language):
                return None
            data = PageData(number, title=title, markdown=markdown, text=text, contents=contents)
            return data, language
    return None


def _clean(markdown: str) -> str:
    # PostgreSQL text columns cannot hold NUL; no reader needs it.
    return markdown.replace("\x00", "").strip()


def _page_data(number: int, page: ExtractedPage) -> PageData:
    markdown = _clean(page.markdown)
    text = markdown_to_text(markdown)
    title = page.title.replace("\x00", "").strip()[:_MAX_TITLE] or page_title(markdown, text=text)
    return PageData(
        number=number,
        title=title,
        markdown=markdown,
        text=text,
        contents=page.contents or looks_like_contents(markdown, title=title),
    )


def page_from_markdown(markdown: str, *, number: int) -> PageData:
    """A page a person wrote or edited: the same derivation as extracted pages."""
    return _page_data(number, ExtractedPage(markdown=markdown))


_TITLE_WORDS = 60


def page_title(markdown: str, *, text: str) -> str:
    """A page's name: its first heading, else its first words (`text` is its spoken text)."""
    return heading_title(markdown) or first_words(text, max_chars=_TITLE_WORDS)


def heading_title(markdown: str) -> str:
    """The text of the page's first heading, or "" when it has none."""
    if "#" not in markdown and "\n=" not in markdown and "\n-" not in markdown:
        return ""  # no ATX or setext heading can be there: skip the parser
    heading = next((block for block in parse_blocks(markdown) if block.heading_level), None)
    return heading.heading_title[:_MAX_TITLE] if heading is not None else ""
