"""EPUB 2 and 3 books: one page per chapter of the reading order (longer chapters split).

The package is read by hand, not with EbookLib (AGPL): container.xml points at the OPF package
document, whose manifest and spine give the chapters in reading order. Package XML is parsed with
defusedxml (no entity declarations, no external references); chapters are parsed as HTML by
selectolax, which never loads DTDs or entities.

The cover is the manifest item EPUB 3 marks "cover-image", else the one EPUB 2's
`<meta name="cover">` names, else an image whose id or file name says "cover"; it is read with the
same bounds as the chapters and normalised by `cover.normalise_cover`. A missing, unsafe or
undecodable cover only means a book without one.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote, urlsplit
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from selectolax.lexbor import LexborHTMLParser

from document_processing.extractors.archive import SafeZip, open_zip
from document_processing.extractors.base import (
    ExtractedPage,
    ExtractionError,
    ExtractionLimits,
    ExtractionResult,
)
from document_processing.extractors.cover import MAX_SOURCE_BYTES, normalise_cover
from document_processing.extractors.html import decode_markup, markup_to_markdown, strip_doctype
from document_processing.extractors.splitting import PageBudget, fit_blocks, parse_blocks

__all__ = ["EpubExtractor"]

_KIND = "EPUB"
_CONTAINER = "META-INF/container.xml"
_ENCRYPTION = "META-INF/encryption.xml"
# Package documents are small; a 16 MiB OPF or NCX is an attack, not a book.
_MAX_XML_BYTES = 16 * 1024 * 1024
_CHAPTER_TYPES = frozenset({"application/xhtml+xml", "text/html", "application/xml"})
_CHAPTER_SUFFIXES = (".xhtml", ".html", ".htm", ".xml")

_NO_PACKAGE = "This EPUB file is damaged: it does not say where its contents are."
_BAD_XML = "This EPUB file is damaged: its table of contents could not be read."
_UNSAFE_XML = "This EPUB file contains XML entity declarations, which we do not accept."
_DRM = "This EPUB is protected by DRM and cannot be read; please upload a DRM-free copy."
_EMPTY = "This EPUB contains no readable text."
_MISSING = "Some chapters listed in the book were missing from the file and were skipped."


@dataclass(frozen=True, slots=True)
class _Chapter:
    path: str
    media_type: str


@dataclass(slots=True)
class _Package:
    """What the OPF says: metadata, reading order and chapter titles from the TOC."""

    title: str = ""
    author: str = ""
    chapters: list[_Chapter] = field(default_factory=list)
    toc_titles: dict[str, str] = field(default_factory=dict)
    cover_path: str | None = None


class EpubExtractor:
    """EPUB books: a page per spine chapter, in reading order."""

    name: ClassVar[str] = "epub"

    def extract(self, path: Path, *, limits: ExtractionLimits) -> ExtractionResult:
        with open_zip(path, limits=limits, kind=_KIND) as archive:
            package = _read_package(archive)
            _refuse_drm(archive, package)
            budget = PageBudget(limits)
            notes: list[str] = []
            for chapter in package.chapters:
                if chapter.path not in archive:
                    notes = [_MISSING]
                    continue
                budget.add(_chapter_pages(archive, chapter, package, limits))
            # After the chapters, so that the text has the first claim on the archive's budget.
            cover_image = _read_cover(archive, package.cover_path)
        if not budget.pages:
            raise ExtractionError(_EMPTY, code="empty")
        return ExtractionResult(
            pages=budget.pages,
            title=package.title,
            author=package.author,
            notes=notes,
            cover=normalise_cover(cover_image, limits=limits),
        )


# ---------------------------------------------------------------------------------------------
# Package document
# ---------------------------------------------------------------------------------------------


def _read_package(archive: SafeZip) -> _Package:
    opf_path = _rootfile_path(archive)
    opf = _parse_xml(archive, opf_path)
    opf_dir = posixpath.dirname(opf_path)
    manifest = _manifest(opf, opf_dir)
    nav_path = next((path for path, _, props in manifest.values() if "nav" in props), None)
    package = _Package()
    package.title, package.author = _metadata(opf)
    package.chapters = list(_spine(opf, manifest, skip=nav_path))
    package.cover_path = _cover_path(opf, manifest)
    if nav_path is not None and nav_path in archive:
        package.toc_titles.update(_nav_titles(archive, nav_path))
    ncx_path = _ncx_path(opf, manifest)
    if ncx_path is not None and ncx_path in archive:
        for chapter_path, title in _ncx_titles(archive, ncx_path).items():
            package.toc_titles.setdefault(chapter_path, title)
    return package


def _rootfile_path(archive: SafeZip) -> str:
    if _CONTAINER not in archive:
        raise ExtractionError(_NO_PACKAGE, code="corrupt")
    container = _parse_xml(archive, _CONTAINER)
    for element in _descendants(container, "rootfile"):
        media_type = element.get("media-type", "application/oebps-package+xml")
        full_path = _resolve("", element.get("full-path", ""))
        if media_type == "application/oebps-package+xml" and full_path and full_path in archive:
            return full_path
    raise ExtractionError(_NO_PACKAGE, code="corrupt")


def _parse_xml(archive: SafeZip, path: str) -> Element:
    data = archive.read(path, max_bytes=_MAX_XML_BYTES)
    try:
        # forbid_dtd stays off: EPUB 2 NCX files carry a harmless public DOCTYPE. Entity
        # declarations (billion laughs, external entities) are refused by default.
        return SafeET.fromstring(data)
    except DefusedXmlException as error:
        raise ExtractionError(_UNSAFE_XML, code="unsafe") from error
    except (ParseError, ValueError) as error:
        raise ExtractionError(_BAD_XML, code="corrupt") from error


def _local(tag: object) -> str:
    """The tag without its namespace: EPUBs in the wild are loose about namespaces."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _descendants(root: Element, name: str) -> Iterator[Element]:
    return (element for element in root.iter() if _local(element.tag) == name)


def _text(element: Element) -> str:
    return " ".join("".join(element.itertext()).split())


def _metadata(opf: Element) -> tuple[str, str]:
    metadata = next(_descendants(opf, "metadata"), None)
    if metadata is None:
        return "", ""
    titles = [_text(element) for element in _descendants(metadata, "title")]
    creators = [_text(element) for element in _descendants(metadata, "creator")]
    return next((t for t in titles if t), ""), ", ".join(c for c in creators if c)


def _manifest(opf: Element, opf_dir: str) -> dict[str, tuple[str, str, set[str]]]:
    """Manifest id → (archive path, media type, properties); unsafe hrefs are left out."""
    items: dict[str, tuple[str, str, set[str]]] = {}
    for item in _descendants(opf, "item"):
        path = _resolve(opf_dir, item.get("href", ""))
        if path is not None and item.get("id"):
            properties = set(item.get("properties", "").split())
            items[item.get("id", "")] = (path, item.get("media-type", ""), properties)
    return items


def _spine(
    opf: Element, manifest: dict[str, tuple[str, str, set[str]]], *, skip: str | None
) -> Iterator[_Chapter]:
    for itemref in _descendants(opf, "itemref"):
        if itemref.get("linear", "yes").strip() == "no":
            continue  # covers, footnote files and the like, outside the reading order
        entry = manifest.get(itemref.get("idref", ""))
        if entry is None:
            continue
        path, media_type, _ = entry
        # The EPUB 3 navigation document is a table of contents, not a chapter.
        if path != skip and _is_chapter(path, media_type):
            yield _Chapter(path=path, media_type=media_type)


def _is_chapter(path: str, media_type: str) -> bool:
    if media_type:
        return media_type in _CHAPTER_TYPES
    return path.lower().endswith(_CHAPTER_SUFFIXES)


def _ncx_path(opf: Element, manifest: dict[str, tuple[str, str, set[str]]]) -> str | None:
    spine = next(_descendants(opf, "spine"), None)
    toc_id = spine.get("toc") if spine is not None else None
    if toc_id and toc_id in manifest:
        return manifest[toc_id][0]
    ncx = (path for path, media, _ in manifest.values() if media == "application/x-dtbncx+xml")
    return next(ncx, None)


def _cover_path(opf: Element, manifest: dict[str, tuple[str, str, set[str]]]) -> str | None:
    """The archive path of the cover image, by the first rule that names an image:
    EPUB 3's "cover-image" property, EPUB 2's `<meta name="cover" content="ID">`, or an image
    whose manifest id or file name contains "cover"."""
    candidates = [item_id for item_id, (_, _, props) in manifest.items() if "cover-image" in props]
    metadata = next(_descendants(opf, "metadata"), None)
    if metadata is not None:
        candidates.extend(
            meta.get("content", "").strip()
            for meta in _descendants(metadata, "meta")
            if meta.get("name", "").strip().lower() == "cover"
        )
    candidates.extend(
        item_id
        for item_id, (path, _, _) in manifest.items()
        if "cover" in item_id.lower() or "cover" in posixpath.basename(path).lower()
    )
    for item_id in candidates:
        entry = manifest.get(item_id)
        if entry is not None and entry[1].strip().lower().startswith("image/"):
            return entry[0]
    return None


def _resolve(base_dir: str, href: str) -> str | None:
    """The archive path an href points to, or None if it leaves the archive or is a URL."""
    parts = urlsplit(href.strip())
    if parts.scheme or parts.netloc or not parts.path:
        return None
    path = unquote(parts.path)
    if path.startswith("/"):
        return None
    resolved = posixpath.normpath(posixpath.join(base_dir, path))
    if resolved == ".." or resolved.startswith("../"):
        return None
    return resolved


# ---------------------------------------------------------------------------------------------
# Tables of contents: chapter titles for chapters without a heading
# ---------------------------------------------------------------------------------------------


def _nav_titles(archive: SafeZip, nav_path: str) -> dict[str, str]:
    html = strip_doctype(decode_markup(archive.read(nav_path, max_bytes=_MAX_XML_BYTES)))
    tree = LexborHTMLParser(html)
    navs = tree.css("nav")
    toc = next((nav for nav in navs if "toc" in (nav.attributes.get("epub:type") or "")), None)
    toc = toc or (navs[0] if navs else None)
    titles: dict[str, str] = {}
    if toc is None:
        return titles
    base_dir = posixpath.dirname(nav_path)
    for link in toc.css("a"):
        target = _resolve(base_dir, link.attributes.get("href") or "")
        title = " ".join(link.text().split())
        if target and title:
            titles.setdefault(target, title)
    return titles


def _ncx_titles(archive: SafeZip, ncx_path: str) -> dict[str, str]:
    ncx = _parse_xml(archive, ncx_path)
    base_dir = posixpath.dirname(ncx_path)
    titles: dict[str, str] = {}
    for point in _descendants(ncx, "navPoint"):
        label = next(_descendants(point, "text"), None)
        content = next(_descendants(point, "content"), None)
        if label is None or content is None:
            continue
        target = _resolve(base_dir, content.get("src", ""))
        if target and _text(label):
            titles.setdefault(target, _text(label))
    return titles


def _refuse_drm(archive: SafeZip, package: _Package) -> None:
    """Encrypted chapters mean DRM; encrypted fonts alone are the harmless font obfuscation."""
    if _ENCRYPTION not in archive:
        return
    encryption = _parse_xml(archive, _ENCRYPTION)
    encrypted = {
        _resolve("", reference.get("URI", ""))
        for reference in _descendants(encryption, "CipherReference")
    }
    if any(chapter.path in encrypted for chapter in package.chapters):
        raise ExtractionError(_DRM, code="encrypted")


def _read_cover(archive: SafeZip, path: str | None) -> bytes:
    """The cover image's bytes as stored, or b"" when there is none or it cannot be read."""
    if path is None or path not in archive:
        return b""
    try:
        return archive.read(path, max_bytes=MAX_SOURCE_BYTES)
    except ExtractionError:  # damaged, or over a limit: the book is still readable without it
        return b""


# ---------------------------------------------------------------------------------------------
# Chapters
# ---------------------------------------------------------------------------------------------


def _chapter_pages(
    archive: SafeZip, chapter: _Chapter, package: _Package, limits: ExtractionLimits
) -> list[ExtractedPage]:
    html = decode_markup(archive.read(chapter.path))
    blocks = parse_blocks(markup_to_markdown(html))
    if not blocks:
        return []  # image-only pages, blank separators
    first_heading = next((block.heading_title for block in blocks if block.heading_level), "")
    title = first_heading or package.toc_titles.get(chapter.path, "")
    return fit_blocks(blocks, max_chars=limits.page_max_chars, title=title)
