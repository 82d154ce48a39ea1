"""Word documents (.docx): headings, lists, tables and paragraphs as Markdown pages.

Pages break where the author broke them (page breaks, "page break before", section breaks) and at
the top-level headings, with the size cap on top.

python-docx would open an upload with plain zipfile (no bomb checks) and parse its XML with lxml,
so it never gets the upload itself. Every member is first read through the bounded reader of
`archive`, each XML part is scanned by defusedxml with DTDs refused (a DOCX never has one; a DTD
is how billion-laughs and external-entity attacks start), and python-docx gets an in-memory copy
of exactly those vetted bytes. Binary parts (images, embedded objects) are blanked in that copy:
only text is read, so they need not be held in memory.

Strict Open XML (ISO/IEC 29500 Strict) names the same elements under other namespaces
(`http://purl.oclc.org/ooxml/...`); the vetted copy carries them under the Transitional names, so
python-docx and the reader below see one vocabulary.

What is read: the body in order, the text of text boxes once (Word stores each twice, a DrawingML
copy and a VML fallback inside `mc:AlternateContent`: one branch is read) after the paragraph that
anchors them, and footnotes and endnotes as "Note 1: ..." after the paragraph (or list) that cites
them, each once, the reference mark itself left out. What is left out: headers and footers (the
first-page one too; their parts are never read), comments, deleted revisions (insertions are
kept), field codes, and text formatted as hidden (`w:vanish`, directly or through a style).

The one binary part read is the package thumbnail (what the package relationship of type
".../metadata/thumbnail" points at, else `docProps/thumbnail.*`), through the same bounded reader,
as the document's cover, normalised by `cover.normalise_cover`. Word on Windows writes it as a
WMF or EMF, which is not decoded: such a document has no cover.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, TypeAlias
from urllib.parse import unquote, urlsplit
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from lxml import etree

from document_processing.extractors.archive import SafeZip, is_safe_member_name, open_zip
from document_processing.extractors.base import (
    ExtractedPage,
    ExtractionError,
    ExtractionLimits,
    ExtractionResult,
)
from document_processing.extractors.cover import MAX_SOURCE_BYTES, normalise_cover
from document_processing.extractors.splitting import PageBudget, split_markdown
from document_processing.markdown import (
    escape_markdown_inline,
    escape_markdown_line_starts,
    markdown_heading,
    markdown_table,
    wrap_emphasis,
)

if TYPE_CHECKING:
    from docx.document import Document as WordDocument

__all__ = ["DocxExtractor"]

_KIND = "Word"
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_XML_SUFFIXES = (".xml", ".rels")
_CORE_PROPERTIES = "docProps/core.xml"
_PACKAGE_RELATIONSHIPS = "_rels/.rels"
# Transitional and Strict OOXML name the relationship type under different hosts.
_THUMBNAIL_TYPE_SUFFIX = "/metadata/thumbnail"
_THUMBNAIL_NAMES = ("docProps/thumbnail.jpeg", "docProps/thumbnail.jpg", "docProps/thumbnail.png")

_DAMAGED = "This Word document is damaged or is not a .docx file."
_UNSAFE_XML = "This Word document contains XML entity declarations, which we do not accept."
_EMPTY = "This Word document contains no readable text."


class DocxExtractor:
    """Word .docx files, split at page breaks and top-level headings."""

    name: ClassVar[str] = "docx"

    def extract(self, path: Path, *, limits: ExtractionLimits) -> ExtractionResult:
        package = _vetted_package(path, limits)
        document = _open_document(package.copy)
        try:
            blocks = _Reader(document).read()
        except (ValueError, KeyError, AttributeError, etree.LxmlError, RecursionError) as error:
            raise ExtractionError(_DAMAGED, code="corrupt") from error
        budget = PageBudget(limits)
        budget.add(_paginate(blocks, limits))
        if not budget.pages:
            raise ExtractionError(_EMPTY, code="empty")
        title, author = _core_properties(document) if package.has_core else ("", "")
        return ExtractionResult(
            pages=budget.pages,
            title=title,
            author=author,
            cover=normalise_cover(package.thumbnail, limits=limits),
        )


# ---------------------------------------------------------------------------------------------
# The package: bounded, scanned, then handed to python-docx
# ---------------------------------------------------------------------------------------------


class _VettedPackage(NamedTuple):
    copy: io.BytesIO  # only bounded-read, DTD-free XML parts in it
    has_core: bool
    thumbnail: bytes  # the thumbnail image as stored, or b""


def _vetted_package(path: Path, limits: ExtractionLimits) -> _VettedPackage:
    """An in-memory copy of the package with only bounded-read, DTD-free XML parts in it."""
    copy = io.BytesIO()
    relationships = b""
    with (
        open_zip(path, limits=limits, kind=_KIND) as archive,
        zipfile.ZipFile(copy, "w", zipfile.ZIP_STORED) as rebuilt,
    ):
        for name in archive.names:
            if name.endswith("/"):
                continue
            data = _vetted_member(archive, name)
            if name == _PACKAGE_RELATIONSHIPS:
                relationships = data
            rebuilt.writestr(name, data)
        has_core = _CORE_PROPERTIES in archive
        thumbnail = _read_thumbnail(archive, relationships)
    copy.seek(0)
    return _VettedPackage(copy, has_core, thumbnail)


def _vetted_member(archive: SafeZip, name: str) -> bytes:
    if not name.lower().endswith(_XML_SUFFIXES):
        return b""
    data = archive.read(name)
    _refuse_dtd(data)
    return _transitional(data)


# Strict Open XML drops the year and changes the host: ".../purl.oclc.org/ooxml/drawingml/main"
# is Transitional's ".../schemas.openxmlformats.org/drawingml/2006/main". Only quoted values
# (namespace declarations, relationship types) are rewritten, never running text.
_STRICT_NAMESPACE = re.compile(
    rb"([\"'])http://purl\.oclc\.org/ooxml/"
    rb"(wordprocessingml|drawingml|officeDocument|schemaLibrary)/([A-Za-z]+)"
)


def _transitional(data: bytes) -> bytes:
    """The XML with Strict Open XML namespaces and relationship types in their Transitional form."""
    if b"purl.oclc.org/ooxml/" not in data:
        return data
    # (The extended- and custom-properties names also change spelling; nothing here reads them.)
    return _STRICT_NAMESPACE.sub(rb"\1http://schemas.openxmlformats.org/\2/2006/\3", data)


class _NoTree:
    """A parser target that builds nothing: the scan only has to see the whole document."""


def _refuse_dtd(data: bytes) -> None:
    """ExtractionError if the XML declares a DTD or entities, or is not well-formed."""
    parser = SafeET.DefusedXMLParser(target=_NoTree(), forbid_dtd=True)
    try:
        parser.feed(data)
        parser.close()
    except DefusedXmlException as error:
        raise ExtractionError(_UNSAFE_XML, code="unsafe") from error
    except SafeET.ParseError as error:
        raise ExtractionError(_DAMAGED, code="corrupt") from error


def _read_thumbnail(archive: SafeZip, relationships: bytes) -> bytes:
    """The package thumbnail's bytes, or b"" when there is none or it cannot be read."""
    name = _thumbnail_name(archive, relationships)
    if name is None:
        return b""
    try:
        return archive.read(name, max_bytes=MAX_SOURCE_BYTES)
    except ExtractionError:  # damaged, or over a limit: the text is still readable without it
        return b""


def _thumbnail_name(archive: SafeZip, relationships: bytes) -> str | None:
    for target in _thumbnail_targets(relationships):
        name = _part_name(target)
        if name is not None and name in archive:
            return name
    return next((name for name in _THUMBNAIL_NAMES if name in archive), None)


def _thumbnail_targets(relationships: bytes) -> list[str]:
    """The targets of the package's thumbnail relationships, from its `_rels/.rels`."""
    if not relationships:
        return []
    try:
        root = SafeET.fromstring(relationships)  # already scanned: no DTD, well-formed
    except (ParseError, DefusedXmlException):
        return []
    return [
        relationship.get("Target", "")
        for relationship in root.iter()
        if isinstance(relationship.tag, str)
        and relationship.tag.rsplit("}", 1)[-1] == "Relationship"
        and relationship.get("Type", "").endswith(_THUMBNAIL_TYPE_SUFFIX)
        and relationship.get("TargetMode", "Internal") != "External"
    ]


def _part_name(target: str) -> str | None:
    """The member a package-level relationship target names, or None if it is not one."""
    parts = urlsplit(target.strip())
    if parts.scheme or parts.netloc or not parts.path:
        return None
    # Package-level targets are relative to the package root, or absolute from it.
    name = posixpath.normpath(unquote(parts.path).lstrip("/"))
    return name if is_safe_member_name(name) and name != "." else None


def _open_document(package: io.BytesIO) -> WordDocument:
    # Imported here so that importing this module stays cheap for processes that never see Word.
    import docx
    from docx.opc.exceptions import OpcError

    try:
        return docx.Document(package)
    except (OpcError, ValueError, KeyError, zipfile.BadZipFile, etree.LxmlError) as error:
        # ValueError: another Office format (.docm, .xlsx); KeyError: a part that is missing.
        raise ExtractionError(_DAMAGED, code="corrupt") from error
    except (AttributeError, TypeError, IndexError) as error:
        # python-docx assumes a well-formed package and fails in these ways on odd ones
        # (e.g. a content-types part in the wrong namespace).
        raise ExtractionError(_DAMAGED, code="corrupt") from error


def _core_properties(document: WordDocument) -> tuple[str, str]:
    try:
        properties = document.core_properties
        return (properties.title or "").strip(), (properties.author or "").strip()
    except (AttributeError, ValueError, KeyError, etree.LxmlError):
        # A core-properties part of the wrong type, or named twice: the text is still readable.
        return "", ""


# ---------------------------------------------------------------------------------------------
# Styles and numbering
# ---------------------------------------------------------------------------------------------

_HEADING_NAME = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)
_MAX_STYLE_DEPTH = 10


@dataclass(frozen=True, slots=True)
class _StyleInfo:
    heading_level: int = 0
    list_kind: str = ""  # "bullet", "number" or ""
    page_break_before: bool = False
    hidden: bool = False  # its runs are formatted as hidden text unless they say otherwise


def _style_elements(document: WordDocument, kind: str) -> dict[Any, Any]:
    return {
        style.get(f"{_W}styleId"): style
        for style in document.styles.element.iterchildren(f"{_W}style")
        if style.get(f"{_W}type") == kind
    }


def _style_table(
    document: WordDocument, numbering: dict[str, dict[str, str]]
) -> dict[str, _StyleInfo]:
    """Paragraph style id → what matters here, following `basedOn` chains."""
    elements = _style_elements(document, "paragraph")
    return {
        style_id: _style_info(style_id, elements, numbering)
        for style_id in elements
        if style_id is not None
    }


def _style_info(
    style_id: str, elements: dict[Any, Any], numbering: dict[str, dict[str, str]]
) -> _StyleInfo:
    level, kind, page_break = 0, "", False
    current: str | None = style_id
    for _ in range(_MAX_STYLE_DEPTH):  # basedOn chains can loop in hostile files
        style = elements.get(current)
        if style is None:
            break
        level = level or _style_heading_level(style)
        kind = kind or _list_kind_of(style.find(f"{_W}pPr"), numbering)
        page_break = page_break or _on(style.find(f"{_W}pPr/{_W}pageBreakBefore"))
        current = _val(style.find(f"{_W}basedOn"))
    return _StyleInfo(
        heading_level=level,
        list_kind=kind,
        page_break_before=page_break,
        hidden=_style_hides(style_id, elements),
    )


def _hidden_character_styles(document: WordDocument) -> frozenset[str]:
    """Ids of the character styles that format their runs as hidden text."""
    elements = _style_elements(document, "character")
    return frozenset(
        style_id
        for style_id in elements
        if style_id is not None and _style_hides(style_id, elements)
    )


def _style_hides(style_id: str, elements: dict[Any, Any]) -> bool:
    """Whether the style, or the nearest style it is based on that says, sets `w:vanish`."""
    current: str | None = style_id
    for _ in range(_MAX_STYLE_DEPTH):
        style = elements.get(current)
        if style is None:
            return False
        vanish = _find(style.find(f"{_W}rPr"), f"{_W}vanish")
        if vanish is not None:
            return _on(vanish)
        current = _val(style.find(f"{_W}basedOn"))
    return False


def _style_heading_level(style: Any) -> int:
    name = _val(style.find(f"{_W}name")) or ""
    match = _HEADING_NAME.match(name.strip())
    if match:
        return min(int(match.group(1)), 6)
    if name.strip().lower() == "title":
        return 1
    outline = _val(style.find(f"{_W}pPr/{_W}outlineLvl"))
    # Localised heading styles ("Überschrift 1") carry an outline level instead of the name.
    if outline is not None and outline.isdigit() and int(outline) < 9:
        return min(int(outline) + 1, 6)
    return 0


def _numbering_formats(document: WordDocument) -> dict[str, dict[str, str]]:
    """numId → {ilvl: numFmt} ("bullet", "decimal", …) from the numbering part, if any."""
    try:
        root = document.part.numbering_part.element
    except (KeyError, NotImplementedError, ValueError):
        return {}
    abstract: dict[str, dict[str, str]] = {}
    for definition in root.iterchildren(f"{_W}abstractNum"):
        levels = {
            level.get(f"{_W}ilvl", "0"): _val(level.find(f"{_W}numFmt")) or "decimal"
            for level in definition.iterchildren(f"{_W}lvl")
        }
        abstract[definition.get(f"{_W}abstractNumId", "")] = levels
    return {
        num.get(f"{_W}numId", ""): abstract.get(_val(num.find(f"{_W}abstractNumId")) or "", {})
        for num in root.iterchildren(f"{_W}num")
    }


def _list_kind_of(ppr: Any, numbering: dict[str, dict[str, str]]) -> str:
    num_pr = ppr.find(f"{_W}numPr") if ppr is not None else None
    if num_pr is None:
        return ""
    num_id = _val(num_pr.find(f"{_W}numId")) or ""
    if num_id in ("", "0"):  # numId 0 switches numbering off
        return ""
    level = _val(num_pr.find(f"{_W}ilvl")) or "0"
    number_format = numbering.get(num_id, {}).get(level, "bullet")
    return "bullet" if number_format in ("bullet", "none") else "number"


def _val(element: Any) -> str | None:
    return None if element is None else element.get(f"{_W}val")


def _on(element: Any) -> bool:
    """A WordprocessingML toggle: present means on, unless its value says otherwise."""
    return element is not None and _val(element) not in ("0", "false", "off")


# ---------------------------------------------------------------------------------------------
# Footnotes and endnotes
# ---------------------------------------------------------------------------------------------

_NOTE_KINDS = {f"{_W}footnoteReference": "footnote", f"{_W}endnoteReference": "endnote"}
# Word's own notes (the separator lines and their continuation notices) are not text.
_SPECIAL_NOTE_TYPES = frozenset({"separator", "continuationSeparator", "continuationNotice"})


def _note_parts(document: WordDocument) -> dict[tuple[str, str], Any]:
    """(kind, id) → the w:footnote or w:endnote element, from the notes parts if there are any.

    The parts are the vetted, DTD-free bytes of the package; they are parsed here because
    python-docx does not load them.
    """
    from docx.oxml.parser import parse_xml

    notes: dict[tuple[str, str], Any] = {}
    for relationship in list(document.part.rels.values()):
        kind = relationship.reltype.rsplit("/", 1)[-1]
        if kind not in ("footnotes", "endnotes") or relationship.is_external:
            continue
        root = parse_xml(relationship.target_part.blob)
        for note in root.iterchildren(f"{_W}{kind[:-1]}"):
            if note.get(f"{_W}type", "normal") not in _SPECIAL_NOTE_TYPES:
                notes.setdefault((kind[:-1], note.get(f"{_W}id", "")), note)
    return notes


@dataclass(frozen=True, slots=True)
class _NoteReference:
    kind: str  # "footnote" or "endnote"
    note_id: str


# ---------------------------------------------------------------------------------------------
# Body to Markdown blocks
# ---------------------------------------------------------------------------------------------


class _PageBreak:
    """Marks an explicit page break between blocks."""


_BREAK = _PageBreak()


@dataclass(frozen=True, slots=True)
class _Block:
    markdown: str
    heading_level: int = 0
    list_level: int = -1  # -1: not a list item


_Item: TypeAlias = "_Block | _PageBreak"

# Text boxes inside text boxes inside ...: deeper than this is left out.
_MAX_BOX_DEPTH = 4
# Tables inside table cells, likewise (their text is flattened into the cell).
_MAX_TABLE_DEPTH = 16


class _Reader:
    """Walks the document body in order, paragraphs and tables interleaved."""

    def __init__(self, document: WordDocument) -> None:
        self._body = document.element.body
        self._numbering = _numbering_formats(document)
        self._styles = _style_table(document, self._numbering)
        self._hidden_styles = _hidden_character_styles(document)
        self._notes = _note_parts(document)
        self._cited: set[tuple[str, str]] = set()
        self._pending_notes: list[_Block] = []
        self._note_count = 0
        self._in_note = False
        self._last_list_level = -1

    def read(self) -> list[_Item]:
        items: list[_Item] = []
        for element in _block_elements(self._body):
            earlier, self._pending_notes = self._pending_notes, []
            group = self._block(element, depth=0)
            blocks = [item for item in group if isinstance(item, _Block)]
            if earlier and blocks and blocks[0].list_level >= 0:
                self._pending_notes[:0] = earlier  # the list goes on: they wait for its end
            else:
                items.extend(earlier)  # notes cited in a list come after the whole list
            items.extend(group)
            if blocks and blocks[-1].list_level < 0:
                items.extend(self._take_notes())
        items.extend(self._take_notes())
        return items

    def _block(self, element: Any, *, depth: int) -> list[_Item]:
        if element.tag == f"{_W}p":
            return self._paragraph(element, depth=depth)
        return self._table(element)

    def _take_notes(self) -> list[_Item]:
        notes: list[_Item] = list(self._pending_notes)
        self._pending_notes = []
        if notes:
            self._last_list_level = -1
        return notes

    # -- paragraphs -------------------------------------------------------------------------

    def _paragraph(self, paragraph: Any, *, depth: int) -> list[_Item]:
        ppr = paragraph.find(f"{_W}pPr")
        style = self._styles.get(_val(_find(ppr, f"{_W}pStyle")) or "", _StyleInfo())
        items: list[_Item] = []
        # Page breaks inside a text box break nothing on the page around it.
        in_box = depth > 0
        if not in_box and (style.page_break_before or _on(_find(ppr, f"{_W}pageBreakBefore"))):
            items.append(_BREAK)
        line: list[_Fragment] = []
        boxes: list[Any] = []
        for piece in self._pieces(paragraph, style):
            if isinstance(piece, _Fragment):
                line.append(piece)
            elif isinstance(piece, _TextBox):
                boxes.append(piece.content)
            elif not in_box:
                items.extend(self._finish(_join_fragments(line), ppr, style))
                items.append(_BREAK)
                line = []
        items.extend(self._finish(_join_fragments(line), ppr, style))
        for content in boxes:
            items.extend(self._text_box(content, depth=depth + 1))
        if not in_box and _ends_section_on_new_page(ppr):
            items.append(_BREAK)
        return items

    def _text_box(self, content: Any, *, depth: int) -> list[_Item]:
        if depth > _MAX_BOX_DEPTH:
            return []
        items: list[_Item] = []
        for element in _block_elements(content):
            items.extend(self._block(element, depth=depth))
        return items

    def _finish(self, inline: str, ppr: Any, style: _StyleInfo) -> list[_Item]:
        text = _strip_breaks(inline)
        if not text:
            return []
        outline = _val(_find(ppr, f"{_W}outlineLvl"))
        level = style.heading_level
        if outline is not None and outline.isdigit() and int(outline) < 9:
            level = min(int(outline) + 1, 6)
        if level:
            self._last_list_level = -1
            return [_Block(markdown=markdown_heading(inline, level), heading_level=level)]
        kind = _list_kind_of(ppr, self._numbering) or style.list_kind
        body = escape_markdown_line_starts(text)
        if not kind:
            self._last_list_level = -1
            return [_Block(markdown=body)]
        return [self._list_item(body, kind, _list_level(ppr))]

    def _list_item(self, body: str, kind: str, level: int) -> _Block:
        # A level may go at most one deeper than the item before it, or the indentation would
        # turn the item into a code block.
        level = min(level, self._last_list_level + 1)
        self._last_list_level = level
        marker = "-" if kind == "bullet" else "1."
        indent = " " * (4 * level)
        continuation = " " * (4 * level + len(marker) + 1)
        lines = body.split("\n")
        text = "\n".join([f"{indent}{marker} {lines[0]}", *(continuation + x for x in lines[1:])])
        return _Block(markdown=text, list_level=level)

    # -- runs -------------------------------------------------------------------------------

    def _pieces(self, paragraph: Any, style: _StyleInfo) -> Iterator[_Piece]:
        """The paragraph's visible text as formatted fragments, with its page breaks and text
        boxes where they fall; the notes it cites are queued."""
        for run in _runs(paragraph):
            yield from self._run_pieces(run, style)

    def _run_pieces(self, run: Any, style: _StyleInfo) -> Iterator[_Piece]:
        rpr = run.find(f"{_W}rPr")
        if self._is_hidden(rpr, style):
            return
        bold = _on(_find(rpr, f"{_W}b"))
        italic = _on(_find(rpr, f"{_W}i"))
        custom_mark = False
        for child in run.iterchildren():
            if child.tag == f"{_W}rPr":
                continue
            if child.tag == f"{_W}ruby":
                # The base text is read; its reading aid (w:rt, furigana) is not.
                base = child.find(f"{_W}rubyBase")
                for base_run in _runs(base) if base is not None else ():
                    yield from self._run_pieces(base_run, style)
                continue
            if child.tag in _NOTE_KINDS:
                # A custom mark ("*", "†") is typed as text after the reference: not read,
                # here or at the start of the note.
                custom_mark = _attribute_on(child.get(f"{_W}customMarkFollows"))
                mark = "".join(t.text or "" for t in child.itersiblings(f"{_W}t"))
                reference = _NoteReference(_NOTE_KINDS[child.tag], child.get(f"{_W}id", ""))
                self._cite(reference, mark=mark if custom_mark else "")
                continue
            if custom_mark and child.tag == f"{_W}t":
                continue
            piece = _run_child(child)
            if piece is _BREAK:
                yield _BREAK
            elif isinstance(piece, str) and piece:
                plain = piece == "\n"
                yield _Fragment(piece, bold=bold and not plain, italic=italic and not plain)
            else:
                yield from (_TextBox(content) for content in _text_box_contents(child))

    def _is_hidden(self, rpr: Any, style: _StyleInfo) -> bool:
        vanish = _find(rpr, f"{_W}vanish")
        if vanish is not None:  # direct formatting wins over styles
            return _on(vanish)
        character_style = _val(_find(rpr, f"{_W}rStyle"))
        if character_style is not None and character_style in self._hidden_styles:
            return True
        return style.hidden

    def _cite(self, reference: _NoteReference, *, mark: str) -> None:
        key = (reference.kind, reference.note_id)
        if key in self._cited or self._in_note:
            # Each note is read once, however often it is cited; a note cited inside a note is
            # not followed (chains of them would only nest deeper).
            return
        self._cited.add(key)
        note = self._notes.get(key)
        if note is None:
            return
        self._in_note = True
        try:
            paragraphs = [_strip_breaks(text) for text in self._flat_paragraphs(note, depth=0)]
        finally:
            self._in_note = False
        paragraphs = [text for text in paragraphs if text]
        escaped_mark = escape_markdown_inline(mark.strip())
        if paragraphs and escaped_mark and paragraphs[0].startswith(escaped_mark):
            paragraphs[0] = paragraphs[0][len(escaped_mark) :].lstrip()
        paragraphs = [text for text in paragraphs if text]
        if not paragraphs:
            return
        self._note_count += 1
        paragraphs[0] = f"Note {self._note_count}: {paragraphs[0]}"
        self._pending_notes.append(_Block(markdown="\n\n".join(paragraphs)))

    # -- tables -----------------------------------------------------------------------------

    def _table(self, table: Any) -> list[_Item]:
        self._last_list_level = -1
        rows = [self._row_cells(row) for row in _table_rows(table)]
        rows = [row for row in rows if any(row)]
        width = max((len(row) for row in rows), default=0)
        if width == 0:
            return []
        if width == 1:
            # A one-column table is layout (a boxed note, a text frame): read it as paragraphs.
            return [_Block(markdown=escape_markdown_line_starts(row[0])) for row in rows if row[0]]
        return [_Block(markdown=markdown_table(rows, width))]

    def _row_cells(self, row: Any) -> list[str]:
        cells: list[str] = []
        for cell in _row_cell_elements(row):
            text = " ".join(" ".join(self._flat_paragraphs(cell, depth=0)).split())
            cells.append(_UNESCAPED_PIPE.sub(r"\\|", text))
            span = _val(_find(cell.find(f"{_W}tcPr"), f"{_W}gridSpan"))
            if span is not None and span.isdigit():
                cells.extend([""] * (min(int(span), 64) - 1))
        return cells

    def _flat_paragraphs(self, container: Any, *, depth: int) -> Iterator[str]:
        """Inline Markdown of each paragraph in a cell or a note (line breaks as "\\n"), nested
        tables and text boxes flattened into the same sequence."""
        if depth > _MAX_TABLE_DEPTH:
            return
        for element in _block_elements(container):
            if element.tag == f"{_W}tbl":
                for row in _table_rows(element):
                    for cell in _row_cell_elements(row):
                        yield from self._flat_paragraphs(cell, depth=depth + 1)
                continue
            ppr = element.find(f"{_W}pPr")
            style = self._styles.get(_val(_find(ppr, f"{_W}pStyle")) or "", _StyleInfo())
            fragments: list[_Fragment] = []
            boxes: list[Any] = []
            for piece in self._pieces(element, style):
                if isinstance(piece, _Fragment):
                    fragments.append(piece)
                elif isinstance(piece, _TextBox):
                    boxes.append(piece.content)
            yield _join_fragments(fragments)
            if depth < _MAX_BOX_DEPTH:
                for content in boxes:
                    yield from self._flat_paragraphs(content, depth=depth + 1)


def _strip_breaks(inline: str) -> str:
    """Line breaks as Markdown hard breaks, none at either end (a trailing `\\` would show)."""
    lines = (line.strip() for line in inline.split("\n"))
    return "\\\n".join(line for line in lines if line)


def _find(element: Any, path: str) -> Any:
    return None if element is None else element.find(path)


def _attribute_on(value: str | None) -> bool:
    return value is not None and value not in ("0", "false", "off")


def _list_level(ppr: Any) -> int:
    level = _val(_find(ppr, f"{_W}numPr/{_W}ilvl")) or "0"
    return min(int(level), 8) if level.isdigit() else 0


def _ends_section_on_new_page(ppr: Any) -> bool:
    section = _find(ppr, f"{_W}sectPr")
    if section is None:
        return False
    return _val(section.find(f"{_W}type")) not in ("continuous", "nextColumn")


def _block_elements(parent: Any) -> Iterator[Any]:
    """Paragraphs and tables in document order, looking inside content controls."""
    for child in parent.iterchildren():
        if child.tag in (f"{_W}p", f"{_W}tbl"):
            yield child
        elif child.tag == f"{_W}sdt":
            content = child.find(f"{_W}sdtContent")
            if content is not None:
                yield from _block_elements(content)
        elif child.tag == f"{_W}customXml":
            yield from _block_elements(child)


def _table_rows(table: Any) -> Iterator[Any]:
    """The table's rows, looking inside content controls; rows deleted as a revision are not."""
    for child in _unwrapped(table, f"{_W}tr"):
        if _find(child.find(f"{_W}trPr"), f"{_W}del") is None:
            yield child


def _row_cell_elements(row: Any) -> Iterator[Any]:
    return _unwrapped(row, f"{_W}tc")


def _unwrapped(parent: Any, tag: str) -> Iterator[Any]:
    """The children of `parent` with `tag`, including those inside content controls."""
    for child in parent.iterchildren():
        if child.tag == tag:
            yield child
        elif child.tag == f"{_W}sdt":
            content = child.find(f"{_W}sdtContent")
            if content is not None:
                yield from _unwrapped(content, tag)
        elif child.tag == f"{_W}customXml":
            yield from _unwrapped(child, tag)


# -- runs --------------------------------------------------------------------------------------

# Containers whose runs are part of the text; w:del and w:moveFrom (tracked deletions and the
# old place of moved text) are deliberately absent.
_RUN_CONTAINERS = frozenset(
    f"{_W}{tag}"
    for tag in ("hyperlink", "ins", "smartTag", "fldSimple", "customXml", "moveTo", "dir", "bdo")
)
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_ALTERNATE_CONTENT = f"{_MC}AlternateContent"
_TEXT_BOX_CONTENT = f"{_W}txbxContent"


@dataclass(frozen=True, slots=True)
class _Fragment:
    text: str
    bold: bool = False
    italic: bool = False


@dataclass(frozen=True, slots=True)
class _TextBox:
    content: Any  # a w:txbxContent element


_Piece: TypeAlias = "_Fragment | _PageBreak | _TextBox"


def _runs(element: Any) -> Iterator[Any]:
    for child in element.iterchildren():
        if child.tag == f"{_W}r":
            yield child
        elif child.tag in _RUN_CONTAINERS:
            yield from _runs(child)
        elif child.tag == f"{_W}sdt":
            content = child.find(f"{_W}sdtContent")
            if content is not None:
                yield from _runs(content)
        elif child.tag == _ALTERNATE_CONTENT:
            branch = _chosen_branch(child)
            if branch is not None:
                yield from _runs(branch)


def _chosen_branch(alternate: Any) -> Any:
    """The one branch of an mc:AlternateContent that is read: its first choice, unless only
    the fallback holds text (Word puts the same text in both)."""
    choice = alternate.find(f"{_MC}Choice")
    fallback = alternate.find(f"{_MC}Fallback")
    if choice is not None and (
        fallback is None or _holds_text(choice) or not _holds_text(fallback)
    ):
        return choice
    return fallback


def _holds_text(element: Any) -> bool:
    return any(True for _ in element.iter(f"{_W}t", _TEXT_BOX_CONTENT))


def _text_box_contents(element: Any) -> Iterator[Any]:
    """The w:txbxContent elements of a drawing, picture or object in a run, each once: of an
    mc:AlternateContent only the chosen branch is looked into, and text boxes inside a text box
    are left for whoever reads that one."""
    stack = [element]
    while stack:
        current = stack.pop()
        if current.tag == _TEXT_BOX_CONTENT:
            yield current
        elif current.tag == _ALTERNATE_CONTENT:
            branch = _chosen_branch(current)
            if branch is not None:
                stack.append(branch)
        else:
            stack.extend(reversed(list(current.iterchildren())))


def _run_child(child: Any) -> str | _PageBreak | None:
    tag = child.tag
    if tag == f"{_W}t":
        return child.text or ""
    if tag == f"{_W}tab":
        return " "
    if tag == f"{_W}br":
        kind = child.get(f"{_W}type")
        if kind == "page":
            return _BREAK
        return " " if kind == "column" else "\n"
    if tag == f"{_W}cr":
        return "\n"
    if tag == f"{_W}noBreakHyphen":
        return "-"
    # Field codes (w:instrText), deleted text, drawings and rendering hints are not text.
    return None


def _join_fragments(fragments: list[_Fragment]) -> str:
    """Inline Markdown for the fragments, runs with equal formatting merged first."""
    merged: list[_Fragment] = []
    for fragment in fragments:
        if merged and (merged[-1].bold, merged[-1].italic) == (fragment.bold, fragment.italic):
            merged[-1] = _Fragment(merged[-1].text + fragment.text, fragment.bold, fragment.italic)
        else:
            merged.append(fragment)
    return "".join(_fragment_markdown(fragment) for fragment in merged)


def _fragment_markdown(fragment: _Fragment) -> str:
    text = escape_markdown_inline(fragment.text)
    if "\n" in text:
        return text  # line breaks: no emphasis across them; _strip_breaks makes them hard
    if fragment.bold:
        text = wrap_emphasis(text, "**")
    if fragment.italic:
        text = wrap_emphasis(text, "*")
    return text


_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


# ---------------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------------


def _paginate(items: list[_Item], limits: ExtractionLimits) -> Iterator[ExtractedPage]:
    """Pages between explicit breaks, each split at the document's top heading level."""
    levels = [item.heading_level for item in items if isinstance(item, _Block)]
    top_level = min((level for level in levels if level), default=0)
    title = ""
    for group in _between_breaks(items):
        pages = split_markdown(
            _group_markdown(group),
            max_chars=limits.page_max_chars,
            title=title,
            split_level=top_level or None,
        )
        if pages:
            title = pages[-1].title
        yield from pages


def _between_breaks(items: list[_Item]) -> Iterator[list[_Block]]:
    group: list[_Block] = []
    for item in items:
        if isinstance(item, _Block):
            group.append(item)
        elif group:
            yield group
            group = []
    if group:
        yield group


def _group_markdown(blocks: list[_Block]) -> str:
    parts: list[str] = []
    for index, block in enumerate(blocks):
        if index:
            previous = blocks[index - 1]
            # Consecutive list items stay one tight list; everything else is its own paragraph.
            tight = previous.list_level >= 0 and block.list_level >= 0
            parts.append("\n" if tight else "\n\n")
        parts.append(block.markdown)
    return "".join(parts)
