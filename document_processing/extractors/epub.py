"""EPUB 2 and 3 books: one page per chapter of the reading order (longer chapters split).

The package is read by hand, not with EbookLib (AGPL): container.xml points at the OPF package
document, whose manifest and spine give the chapters in reading order. Package XML is parsed with
defusedxml (no entity declarations, no external references); chapters are parsed as HTML by
selectolax, which never loads DTDs or entities.

A spine item that is not XHTML (a picture, an SVG page, a foreign XML vocabulary) is read through
its manifest fallback chain; an SVG page without one is read for the words it draws. Each file
is read once, however often the spine lists it. The navigation document, the page the EPUB 2
guide calls the table of contents and chapters that are mostly links are kept, marked as
contents (passed over when listening).

The cover is the manifest item EPUB 3 marks "cover-image", else the one EPUB 2's
`<meta name="cover">` names, else an image whose id or file name says "cover"; it is read with the
same bounds as the chapters and normalised by `cover.normalise_cover`. A missing, unsafe or
undecodable cover only means a book without one.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
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
from document_processing.extractors.html import decode_markup, strip_doctype, tree_to_markdown
from document_processing.extractors.splitting import PageBudget, fit_blocks, parse_blocks

__all__ = ["EpubExtractor"]

_KIND = "EPUB"
_CONTAINER = "META-INF/container.xml"
_ENCRYPTION = "META-INF/encryption.xml"
# Package documents are small; a 16 MiB OPF or NCX is an attack, not a book.
_MAX_XML_BYTES = 16 * 1024 * 1024
# XHTML, and what older books and loose tools use for it. Any other type ("application/xml" for
# a foreign XML vocabulary, JSON, an image) is read through the item's fallback.
_CHAPTER_TYPES = frozenset({"application/xhtml+xml", "text/html", "text/x-oeb1-document"})
_CHAPTER_SUFFIXES = (".xhtml", ".html", ".htm")
_SVG_TYPE = "image/svg+xml"
_MAX_FALLBACKS = 16
# Never a chapter, whatever the file is called: pictures, sound, fonts, style, the NCX. (An SVG
# page is read through its fallback, or else for the words it draws.)
_NOT_CHAPTER_TYPES = ("image/", "audio/", "video/", "font/", "application/font", "text/css")
_NCX_TYPE = "application/x-dtbncx+xml"
_NOT_CHAPTER_MEDIA = frozenset(
    {_NCX_TYPE, "application/vnd.ms-opentype", "application/x-font-ttf", "text/javascript"}
)

_NO_PACKAGE = "This EPUB file is damaged: it does not say where its contents are."
_BAD_XML = "This EPUB file is damaged: its table of contents could not be read."
_UNSAFE_XML = "This EPUB file contains XML entity declarations, which we do not accept."
_DRM = "This EPUB is protected by DRM and cannot be read; please upload a DRM-free copy."
_EMPTY = "This EPUB contains no readable text."
_MISSING = "Some chapters listed in the book were missing from the file and were skipped."


@dataclass(frozen=True, slots=True)
class _Item:
    """A manifest item: where it is, what it is, and the item to read instead if need be."""

    path: str
    media_type: str
    properties: frozenset[str] = frozenset()
    fallback: str = ""


@dataclass(frozen=True, slots=True)
class _Chapter:
    path: str
    media_type: str
    # The book's own table of contents (its navigation document, or the page its guide names).
    contents: bool = False


@dataclass(slots=True)
class _Package:
    """What the OPF says: metadata, reading order and chapter titles from the TOC."""

    title: str = ""
    author: str = ""
    language: str = ""  # the first dc:language
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
        if all(page.contents for page in budget.pages):
            # Nothing but a table of contents (a comic's pictures, listed): nothing to read.
            raise ExtractionError(_EMPTY, code="empty")
        return ExtractionResult(
            pages=budget.pages,
            title=package.title,
            author=package.author,
            notes=notes,
            cover=normalise_cover(cover_image, limits=limits),
            language=package.language,
        )


# ---------------------------------------------------------------------------------------------
# Package document
# ---------------------------------------------------------------------------------------------


def _read_package(archive: SafeZip) -> _Package:
    opf_path = _rootfile_path(archive)
    opf = _parse_xml(archive, opf_path)
    opf_dir = posixpath.dirname(opf_path)
    manifest = _manifest(opf, opf_dir)
    nav_path = next((item.path for item in manifest.values() if "nav" in item.properties), None)
    package = _Package()
    package.title, package.author = _metadata(opf)
    package.language = next(
        (_text(element) for element in _descendants(opf, "language") if _text(element)), ""
    )
    contents_paths = _guide_contents(opf, opf_dir)
    if nav_path is not None:
        contents_paths.add(nav_path)
    package.chapters = list(_spine(opf, manifest, contents=contents_paths))
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


def _manifest(opf: Element, opf_dir: str) -> dict[str, _Item]:
    """Manifest id → item; unsafe hrefs are left out."""
    items: dict[str, _Item] = {}
    for item in _descendants(opf, "item"):
        path = _resolve(opf_dir, item.get("href", ""))
        if path is not None and item.get("id"):
            items[item.get("id", "")] = _Item(
                path=path,
                media_type=_media_type(item.get("media-type", "")),
                properties=frozenset(item.get("properties", "").split()),
                fallback=item.get("fallback", "").strip(),
            )
    return items


def _media_type(declared: str) -> str:
    """The media type in lower case without parameters ("Application/XHTML+XML; x=y" is
    "application/xhtml+xml")."""
    return declared.split(";", 1)[0].strip().lower()


def _spine(opf: Element, manifest: dict[str, _Item], *, contents: set[str]) -> Iterator[_Chapter]:
    """The chapters in reading order, each once; an item that is not a chapter (an image, an
    SVG page) is read through its manifest fallback, the chain EPUB 3 defines for it."""
    seen: set[str] = set()
    for itemref in _descendants(opf, "itemref"):
        if itemref.get("linear", "yes").strip() == "no":
            continue  # covers, footnote files and the like, outside the reading order
        item = _readable(manifest, itemref.get("idref", ""))
        if item is None or item.path in seen:
            continue  # (a comic's every page may fall back to one and the same text)
        seen.add(item.path)
        yield _Chapter(path=item.path, media_type=item.media_type, contents=item.path in contents)


def _readable(manifest: dict[str, _Item], item_id: str) -> _Item | None:
    """What to read for the spine item `item_id`: the first item of its fallback chain that is
    a chapter by its media type, else the first that is one by its file name."""
    chain: list[_Item] = []
    item = manifest.get(item_id)
    while item is not None and item not in chain and len(chain) < _MAX_FALLBACKS:
        chain.append(item)
        item = manifest.get(item.fallback)
    declared = next((item for item in chain if item.media_type in _CHAPTER_TYPES), None)
    # An SVG page with no XHTML to fall back to is read for the words it draws.
    drawn = next((item for item in chain if item.media_type == _SVG_TYPE), None)
    return declared or drawn or next((item for item in chain if _named_as_chapter(item)), None)


def _named_as_chapter(item: _Item) -> bool:
    """An item with a loose type ("application/xml", "application/xhtml", none) that a file
    name says is a chapter; never a picture, a sound, a font or a style sheet."""
    if item.media_type.startswith(_NOT_CHAPTER_TYPES) or item.media_type in _NOT_CHAPTER_MEDIA:
        return False
    return item.path.lower().endswith(_CHAPTER_SUFFIXES)


def _guide_contents(opf: Element, opf_dir: str) -> set[str]:
    """The pages EPUB 2's guide calls the table of contents."""
    paths: set[str] = set()
    for reference in _descendants(opf, "reference"):
        if reference.get("type", "").strip().lower() == "toc":
            path = _resolve(opf_dir, reference.get("href", "").split("#", 1)[0])
            if path:
                paths.add(path)
    return paths


def _ncx_path(opf: Element, manifest: dict[str, _Item]) -> str | None:
    """The NCX: the item the spine's `toc` names if it is one, else any item that is one
    (books name it "ncx", "toc", "ncxtoc" or anything else, and some point `toc` astray)."""
    spine = next(_descendants(opf, "spine"), None)
    toc_id = spine.get("toc", "").strip() if spine is not None else ""
    candidates = [manifest[toc_id]] if toc_id in manifest else []
    candidates.extend(manifest.values())
    for item in candidates:
        if item.media_type == _NCX_TYPE or (
            not item.media_type and item.path.lower().endswith(".ncx")
        ):
            return item.path
    return None


def _cover_path(opf: Element, manifest: dict[str, _Item]) -> str | None:
    """The archive path of the cover image, by the first rule that names an image:
    EPUB 3's "cover-image" property, EPUB 2's `<meta name="cover" content="ID">`, or an image
    whose manifest id or file name contains "cover"."""
    candidates = [item_id for item_id, item in manifest.items() if "cover-image" in item.properties]
    metadata = next(_descendants(opf, "metadata"), None)
    if metadata is not None:
        candidates.extend(
            meta.get("content", "").strip()
            for meta in _descendants(metadata, "meta")
            if meta.get("name", "").strip().lower() == "cover"
        )
    candidates.extend(
        item_id
        for item_id, item in manifest.items()
        if "cover" in item_id.lower() or "cover" in posixpath.basename(item.path).lower()
    )
    for item_id in candidates:
        entry = manifest.get(item_id)
        if entry is not None and entry.media_type.startswith("image/"):
            return entry.path
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
    try:
        ncx = _parse_xml(archive, ncx_path)
    except ExtractionError as error:
        if error.code == "unsafe":
            raise
        return {}  # titles are a nicety: a damaged NCX leaves the chapters to their headings
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
    if _is_xhtml(chapter):
        html = _open_self_closed(html)
    tree = LexborHTMLParser(strip_doctype(html))
    contents = chapter.contents or _mostly_links(tree)
    blocks = parse_blocks(tree_to_markdown(tree, svg_text=True))
    if not blocks:
        return []  # image-only pages, blank separators
    first_heading = next((block.heading_title for block in blocks if block.heading_level), "")
    title = first_heading or package.toc_titles.get(chapter.path, "")
    pages = fit_blocks(blocks, max_chars=limits.page_max_chars, title=title)
    return [replace(page, contents=True) for page in pages] if contents else pages


def _is_xhtml(chapter: _Chapter) -> bool:
    if chapter.media_type:
        return chapter.media_type != "text/html"
    return not chapter.path.lower().endswith((".html", ".htm"))


# `<span id="p12"/>` in XHTML is an empty element; an HTML parser (which reads chapters: XHTML in
# the wild is often not well-formed XML) opens a span there that swallows the rest of the
# paragraph, and `<script src="x.js"/>` in the head swallows the whole chapter. Written out as
# a start and an end tag, each means what the XHTML said. `[^<>]*` keeps the scan linear.
_SELF_CLOSED = re.compile(r"<([A-Za-z][\w:.-]*)(\s[^<>]*?)?\s*/>")
_VOID_ELEMENTS = frozenset(
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr",
    }
)  # fmt: skip


def _open_self_closed(xhtml: str) -> str:
    return _SELF_CLOSED.sub(_start_and_end_tag, xhtml)


def _start_and_end_tag(match: re.Match[str]) -> str:
    name = match.group(1)
    if name.lower() in _VOID_ELEMENTS:
        return match.group()
    return f"<{name}{match.group(2) or ''}></{name}>"


# A page is a list of links (a table of contents the book does not name as one) when most of
# its words are link text, and there are enough links to be a list.
_CONTENTS_MIN_LINKS = 5
_CONTENTS_LINK_SHARE = 0.7


def _mostly_links(tree: LexborHTMLParser) -> bool:
    body = tree.body
    if body is None:
        return False
    links = [link for link in body.css("a[href]") if link.text(deep=True).strip()]
    if len(links) < _CONTENTS_MIN_LINKS:
        return False
    linked = sum(len("".join(link.text(deep=True).split())) for link in links)
    total = len("".join(body.text(deep=True).split()))
    return total > 0 and linked >= _CONTENTS_LINK_SHARE * total
