"""HTML pages: the main content (no menus, navigation or footers) as Markdown.

trafilatura finds the main content; when it finds nothing (short pages, unusual layouts) a plain
selectolax conversion of the whole body, minus obvious boilerplate, is used instead. The same
selectolax conversion turns EPUB chapters into Markdown (see `markup_to_markdown`).

Entity declarations are never honoured: both parsers used here (lxml's HTML parser inside
trafilatura, and lexbor) are HTML parsers that neither expand declared entities nor load external
ones, and the DOCTYPE with its internal subset is removed before parsing all the same.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import ClassVar

from selectolax.lexbor import LexborHTMLParser, LexborNode

from document_processing.extractors.archive import read_limited
from document_processing.extractors.base import (
    ExtractionError,
    ExtractionLimits,
    ExtractionResult,
)
from document_processing.extractors.splitting import PageBudget, split_markdown
from document_processing.markdown import (
    escape_markdown_inline,
    escape_markdown_line_starts,
    markdown_heading,
    markdown_table,
    wrap_emphasis,
)

__all__ = [
    "HtmlExtractor",
    "decode_markup",
    "html_to_markdown",
    "markup_to_markdown",
    "strip_doctype",
]

_EMPTY = "This web page contains no readable text."


class HtmlExtractor:
    """HTML files: main content to Markdown pages split at the top-level headings."""

    name: ClassVar[str] = "html"

    def extract(self, path: Path, *, limits: ExtractionLimits) -> ExtractionResult:
        data = read_limited(path, max_bytes=limits.max_uncompressed_bytes, kind="web page")
        return html_to_markdown(decode_markup(data), url=None, limits=limits)


def html_to_markdown(html: str, *, url: str | None, limits: ExtractionLimits) -> ExtractionResult:
    """Main content of an HTML document as pages of Markdown (also used by URL import)."""
    html = strip_doctype(html)
    markdown, title, author = _trafilatura_extract(html, url=url)
    if not markdown.strip():
        markdown = markup_to_markdown(html, drop_boilerplate=True)
    if not markdown.strip():
        raise ExtractionError(_EMPTY, code="empty")
    title = title or _title_element(html)
    budget = PageBudget(limits)
    budget.add(split_markdown(markdown, max_chars=limits.page_max_chars, title=title))
    return ExtractionResult(pages=budget.pages, title=title, author=author)


def _trafilatura_extract(html: str, *, url: str | None) -> tuple[str, str, str]:
    """(markdown, title, author) from trafilatura; empty strings when it finds nothing."""
    # Imported here: trafilatura pulls in dateparser, htmldate and courlan, a noticeable cost for
    # processes that never see HTML.
    import trafilatura
    from trafilatura.utils import load_html

    tree = load_html(html)
    if tree is None:
        return "", "", ""
    metadata = trafilatura.extract_metadata(tree, default_url=url, extensive=False)
    markdown = trafilatura.extract(
        tree,
        url=url,
        output_format="markdown",
        favor_precision=True,
        include_tables=True,
        include_links=False,  # link text is kept, the URL is not: it is not read aloud
        include_images=False,
        include_comments=False,
        deduplicate=False,
    )
    return markdown or "", metadata.title or "", metadata.author or ""


def _title_element(html: str) -> str:
    title = LexborHTMLParser(html).css_first("title")
    return " ".join(title.text().split()) if title is not None else ""


# ---------------------------------------------------------------------------------------------
# Bytes to text
# ---------------------------------------------------------------------------------------------

# A DOCTYPE (with its internal subset, where entities are declared) in the prologue, the only
# place it has any effect. Anchored at the start, so hostile input costs one linear scan.
_PROLOGUE_DOCTYPE = re.compile(
    r"\A((?:\s|\ufeff|<\?[^>]*>|<!--.*?-->)*)<!DOCTYPE(?:[^\[>]|\[[^\]]*\])*>",
    re.IGNORECASE | re.DOTALL,
)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"<\?xml[^>]+encoding\s*=\s*[\"']([A-Za-z0-9_.:-]+)", re.IGNORECASE)
_SNIFF_BYTES = 4096


def strip_doctype(html: str) -> str:
    """The document without its DOCTYPE: the only place where entities could be declared."""
    return _PROLOGUE_DOCTYPE.sub(r"\1", html, count=1)


def decode_markup(data: bytes) -> str:
    """HTML or XHTML bytes as text: BOM, then declared charset, then UTF-8, then Windows-1252."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    declared = _declared_encoding(data[:_SNIFF_BYTES])
    if declared is not None:
        return data.decode(declared, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # What browsers assume for undeclared legacy pages.
        return data.decode("cp1252", errors="replace")


def _declared_encoding(head: bytes) -> str | None:
    match = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    if match is None:
        return None
    try:
        name = codecs.lookup(match.group(1).decode("ascii")).name
    except LookupError:
        return None
    # A UTF-16 label on a page that was read as ASCII is a lie (the HTML standard says so).
    return None if name.startswith(("utf-16", "utf-32")) else name


# ---------------------------------------------------------------------------------------------
# selectolax conversion
# ---------------------------------------------------------------------------------------------

_SKIPPED = frozenset(
    {
        "script", "style", "noscript", "template", "head", "title", "svg", "math", "iframe",
        "object", "embed", "canvas", "video", "audio", "button", "select", "input", "textarea",
        "img", "picture", "map", "-comment",
    }
)  # fmt: skip
_BOILERPLATE = frozenset({"nav", "header", "footer", "aside", "form", "menu", "dialog"})
_BLOCKS = frozenset(
    {
        "address", "article", "blockquote", "body", "center", "dd", "details", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "html",
        "li", "main", "ol", "p", "pre", "section", "summary", "table", "ul", "nav", "header",
        "footer", "aside", "form", "menu", "dialog", "caption", "tbody", "thead", "tfoot", "tr",
        "td", "th",
    }
)  # fmt: skip
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
# Beyond this nesting depth the rest of a subtree is read as plain text: hostile pages nest
# elements thousands deep to exhaust the recursion limit.
_MAX_DEPTH = 200
_HTML_WHITESPACE = re.compile(r"[ \t\n\r\f]+")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")
_LIST_START = re.compile(r"(?:-|\d+\.) ")


def markup_to_markdown(html: str, *, drop_boilerplate: bool = False) -> str:
    """The body of an HTML/XHTML document as Markdown: headings, paragraphs, lists, tables.

    Links keep their text only; images are left out. With `drop_boilerplate`, navigation,
    headers, footers, asides and forms are left out too (for web pages, not book chapters).
    """
    tree = LexborHTMLParser(strip_doctype(html))
    root = tree.body or tree.root
    if root is None:
        return ""
    blocks = _Converter(drop_boilerplate=drop_boilerplate).blocks(root, 0)
    return "\n\n".join(blocks)


class _Converter:
    """Recursive HTML-to-Markdown conversion; `blocks` for block context, `inline` for text."""

    def __init__(self, *, drop_boilerplate: bool) -> None:
        self._skipped = _SKIPPED | _BOILERPLATE if drop_boilerplate else _SKIPPED

    # -- block context ----------------------------------------------------------------------

    def blocks(self, node: LexborNode, depth: int) -> list[str]:
        """Markdown blocks for the children of `node`; loose text becomes paragraphs."""
        blocks: list[str] = []
        inline: list[str] = []
        for child in node.iter(include_text=True):
            tag = child.tag or ""
            if tag in self._skipped:
                continue
            if tag in _BLOCKS:
                blocks.extend(_paragraphs("".join(inline)))
                inline = []
                blocks.extend(self.block(child, depth + 1))
            else:
                inline.append(self.inline(child, depth + 1))
        blocks.extend(_paragraphs("".join(inline)))
        return blocks

    def block(self, node: LexborNode, depth: int) -> list[str]:
        tag = node.tag or ""
        if depth > _MAX_DEPTH:
            return _paragraphs(escape_markdown_inline(_collapse(node.text(separator=" "))))
        if tag in _HEADINGS:
            return _heading(self.inline_of(node, depth), _HEADINGS[tag])
        if tag in ("ul", "ol"):
            return self._list(node, depth, ordered=tag == "ol")
        if tag == "table":
            return self._table(node, depth)
        if tag == "pre":
            return [_fence(node.text(deep=True, separator=""))]
        if tag == "blockquote":
            return _quote(self.blocks(node, depth))
        if tag == "hr":
            return ["---"]
        return self.blocks(node, depth)

    def _list(self, node: LexborNode, depth: int, *, ordered: bool) -> list[str]:
        number = _start_number(node) if ordered else 0
        items: list[str] = []
        for child in node.iter():
            if (child.tag or "") in self._skipped:
                continue
            if child.tag == "li":
                content = self.blocks(child, depth + 1)
            else:
                # Stray content in a list (often a nested <ul> not wrapped in <li>).
                content = self.block(child, depth + 1)
            if not content:
                continue
            marker = f"{number}." if ordered else "-"
            number += 1
            items.append(_list_item(marker, content))
        return ["\n".join(items)] if items else []

    def _table(self, node: LexborNode, depth: int) -> list[str]:
        rows = [
            [self._cell(cell, depth) for cell in row.iter() if cell.tag in ("td", "th")]
            for row in _table_rows(node)
        ]
        rows = [row for row in rows if any(row)]
        width = max((len(row) for row in rows), default=0)
        if width <= 1 or len(node.css("table")) > 1:
            # A layout table (one column, or tables in tables): read its content as blocks.
            return self.blocks(node, depth)
        return [markdown_table(rows, width)]

    def _cell(self, cell: LexborNode, depth: int) -> str:
        text = _collapse(self.inline_of(cell, depth).replace("\n", " "))
        return _UNESCAPED_PIPE.sub(r"\\|", text)

    # -- inline context ---------------------------------------------------------------------

    def inline_of(self, node: LexborNode, depth: int) -> str:
        """Inline Markdown for everything inside `node`, block children included."""
        return "".join(self.inline(child, depth + 1) for child in node.iter(include_text=True))

    def inline(self, node: LexborNode, depth: int) -> str:
        tag = node.tag or ""
        if tag == "-text":
            return escape_markdown_inline(_collapse(node.text_content or ""))
        if tag in self._skipped or _is_note_reference(node):
            return ""
        if depth > _MAX_DEPTH:
            return escape_markdown_inline(_collapse(node.text(separator=" ")))
        if tag == "br":
            return "\n"
        if tag in ("code", "kbd", "samp", "tt"):
            return _code_span(node.text(deep=True, separator=""))
        inner = self.inline_of(node, depth)
        if tag in ("strong", "b"):
            return wrap_emphasis(inner, "**")
        if tag in ("em", "i", "cite", "dfn"):
            return wrap_emphasis(inner, "*")
        if tag in _BLOCKS:
            # A block inside inline content (<a><div>…</div></a>): keep it apart from its
            # neighbours rather than running the words together.
            return f" {inner} "
        return inner


def _collapse(text: str) -> str:
    return _HTML_WHITESPACE.sub(" ", text)


def _paragraphs(inline: str) -> list[str]:
    """Paragraph blocks from inline Markdown; `<br>` lines become hard breaks, two end it."""
    paragraphs: list[str] = []
    lines: list[str] = []
    for line in [*inline.split("\n"), ""]:
        line = line.strip()
        if line:
            lines.append(line)
        elif lines:
            paragraphs.append(escape_markdown_line_starts("\\\n".join(lines)))
            lines = []
    return paragraphs


def _heading(text: str, level: int) -> list[str]:
    heading = markdown_heading(text, level)
    return [heading] if heading else []


def _code_span(text: str) -> str:
    code = _collapse(text).strip()
    if not code:
        return ""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    ticks = "`" * (longest + 1)
    padding = " " if code.startswith("`") or code.endswith("`") else ""
    return f"{ticks}{padding}{code}{padding}{ticks}"


def _fence(code: str) -> str:
    longest = max((len(run) for run in re.findall(r"`{3,}", code)), default=0)
    ticks = "`" * max(3, longest + 1)
    return "\n".join((ticks, code.strip("\n"), ticks))


def _quote(blocks: list[str]) -> list[str]:
    if not blocks:
        return []
    text = "\n\n".join(blocks)
    return ["\n".join(f"> {line}" if line else ">" for line in text.split("\n"))]


def _start_number(node: LexborNode) -> int:
    start = (node.attributes.get("start") or "1").strip()
    return int(start) if start.isdigit() and len(start) < 9 else 1


def _list_item(marker: str, content: list[str]) -> str:
    indent = " " * (len(marker) + 1)
    body = content[0]
    for block in content[1:]:
        # A nested list follows its item's text directly; anything else is a new paragraph.
        body += ("\n" if _LIST_START.match(block) else "\n\n") + block
    lines = body.split("\n")
    rest = [f"{indent}{line}" if line else "" for line in lines[1:]]
    return "\n".join([f"{marker} {lines[0]}", *rest])


def _table_rows(table: LexborNode) -> list[LexborNode]:
    """The table's own rows, through thead/tbody/tfoot, not those of nested tables."""
    rows: list[LexborNode] = []
    for child in table.iter():
        if child.tag == "tr":
            rows.append(child)
        elif child.tag in ("thead", "tbody", "tfoot"):
            rows.extend(row for row in child.iter() if row.tag == "tr")
    return rows


def _is_note_reference(node: LexborNode) -> bool:
    """Footnote markers ("¹", "[12]") are noise when read aloud; EPUB 3 labels them."""
    attributes = node.attributes
    epub_type = attributes.get("epub:type") or attributes.get("role") or ""
    return "noteref" in epub_type
