"""HTML pages: the main content (no menus, navigation or footers) as Markdown.

trafilatura finds the main content, and an article's lead and captions that it drops are put
back (see `html_recovery`); when it finds nothing (short pages, unusual layouts) a plain
selectolax conversion of the whole body, minus obvious boilerplate, is used instead. The same
selectolax conversion turns EPUB chapters into Markdown (see `markup_to_markdown`).

Entity declarations are never honoured: both parsers used here (lxml's HTML parser inside
trafilatura, and lexbor) are HTML parsers that neither expand declared entities nor load external
ones, and the DOCTYPE with its internal subset is removed before parsing all the same.
"""

from __future__ import annotations

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
from document_processing.extractors.charsets import decode_bytes
from document_processing.extractors.html_recovery import recover_dropped
from document_processing.extractors.splitting import PageBudget, split_markdown
from document_processing.extractors.unspoken import drop_unspoken
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
    "tree_to_markdown",
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
    html = _without_unspoken(strip_doctype(html))
    markdown, title, author = _trafilatura_extract(html, url=url)
    if not markdown.strip():
        markdown = markup_to_markdown(html, drop_boilerplate=True)
    if not markdown.strip():
        raise ExtractionError(_EMPTY, code="empty")
    title = title or _title_element(html)
    budget = PageBudget(limits)
    budget.add(split_markdown(markdown, max_chars=limits.page_max_chars, title=title))
    return ExtractionResult(
        pages=budget.pages, title=title, author=author, language=_declared_language(html)
    )


# <html lang="ar"> or <html xml:lang="ar">, as written in the page's opening tag.
_HTML_LANG = re.compile(
    r"<html\b[^>]*?\s(?:xml:)?lang\s*=\s*[\"']?\s*([A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*)",
    re.IGNORECASE,
)


def _declared_language(html: str) -> str:
    """The language the page's <html> element declares, or ""."""
    found = _HTML_LANG.search(html[:20_000])
    return found.group(1) if found else ""


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
    # Superscripts and subscripts come through as raw HTML, which pages show as text.
    markdown = _tidy_tables(_SCRIPT_TAG.sub("", markdown or ""))
    if markdown.strip():
        markdown = recover_dropped(tree, markdown, to_markdown=markup_to_markdown)
    return markdown, metadata.title or "", metadata.author or ""


_SCRIPT_TAG = re.compile(r"</?(?:sup|sub)>")
_TABLE_ROW = re.compile(r"\|.*\|[ \t]*")
_BOLD_CELL = re.compile(r"\*\*[^*].*\*\*")
_DELIMITER_ROW = re.compile(r"\|(?:[ \t]*:?-{3,}:?[ \t]*\|)+[ \t]*")


def _tidy_tables(markdown: str) -> str:
    """trafilatura's tables as Markdown reads them: it writes a delimiter row after every row
    of header cells, so a caption row or a row headed by a <th> ("Founded | 1998") would make
    the rows after it "---" cells, and none for a table without header cells, which is then
    no table. A caption becomes a paragraph; a table whose header cells are not all in its
    first row gets an empty header row. Code blocks are left as they are."""
    if "|" not in markdown:
        return markdown
    lines = markdown.split("\n")
    out: list[str] = []
    index = 0
    in_code = False
    while index < len(lines):
        if lines[index].lstrip().startswith("```"):
            in_code = not in_code
        if in_code or not _TABLE_ROW.fullmatch(lines[index]):
            out.append(lines[index])
            index += 1
            continue
        end = index
        while end < len(lines) and _TABLE_ROW.fullmatch(lines[end]):
            end += 1
        out.extend(_tidy_table(lines[index:end]))
        index = end
    return "\n".join(out)


def _tidy_table(rows: list[str]) -> list[str]:
    delimiters = [i for i, row in enumerate(rows) if _DELIMITER_ROW.fullmatch(row)]
    if not delimiters:
        # Rows without any header cell: no delimiter row at all, so not yet a table. A first
        # row all in bold heads it; otherwise it gets an empty header row.
        width = max(len(_row_cells(row)) for row in rows)
        delimiter = "|" + "---|" * width
        if all(_BOLD_CELL.fullmatch(cell) for cell in _row_cells(rows[0]) if cell):
            return [rows[0], delimiter, *rows[1:]]
        return ["|" + "  |" * width, delimiter, *rows]
    if delimiters[0] != 1:
        return rows
    before: list[str] = []
    cells = _row_cells(rows[0])
    if len(cells) > 1 and cells[0] and not any(cells[1:]):
        before = [cells[0], ""]  # a caption, spanning the table
        rows = rows[2:]
        delimiters = [i - 2 for i in delimiters[1:]]
        if delimiters == [1]:
            return [*before, *rows]
    elif delimiters == [1]:
        return rows
    data = [row for row in rows if not _DELIMITER_ROW.fullmatch(row)]
    if not data:
        return before
    width = max(len(_row_cells(row)) for row in data)
    header = "|" + "  |" * width
    delimiter = "|" + "---|" * width
    return [*before, header, delimiter, *data]


def _row_cells(row: str) -> list[str]:
    return [cell.strip() for cell in _UNESCAPED_PIPE.split(row.strip().strip("|"))]


def _without_unspoken(html: str) -> str:
    """The page without what a reader skips (page numbers, note marks, "[edit]"), and with
    row headers as plain cells: trafilatura takes a row with a <th> for a header row, and an
    infobox's "<th>Founded</th><td>1998</td>" would head the rows under it."""
    tree = LexborHTMLParser(html)
    drop_unspoken(tree)
    for row in tree.css("tr"):
        cells = [cell for cell in row.iter() if cell.tag in ("td", "th")]
        if any(cell.tag == "td" for cell in cells):
            for cell in cells:
                if cell.tag == "th":
                    _as_data_cell(cell)
    return tree.html or html


def _as_data_cell(cell: LexborNode) -> None:
    replacement = LexborHTMLParser(f"<table><tr><td>{cell.inner_html or ''}</td></tr></table>")
    td = replacement.css_first("td")
    if td is not None:
        cell.replace_with(td)


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


def strip_doctype(html: str) -> str:
    """The document without its DOCTYPE: the only place where entities could be declared."""
    return _PROLOGUE_DOCTYPE.sub(r"\1", html, count=1)


def decode_markup(data: bytes, *, declared: str | None = None) -> str:
    """HTML or XHTML bytes as text: BOM, then the declared charset (`declared`, from HTTP, before
    the page's own `<meta>` or XML declaration), then detection; see `charsets`."""
    return decode_bytes(data, declared=declared, markup=True).text


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
_SPACE_RUN = re.compile(r"  +")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")
_LIST_START = re.compile(r"(?:-|\d+\.) ")


def markup_to_markdown(html: str, *, drop_boilerplate: bool = False) -> str:
    """The body of an HTML/XHTML document as Markdown: headings, paragraphs, lists, tables.

    Links keep their text only; images, page numbers and note marks are left out (see
    `unspoken`). With `drop_boilerplate`, navigation, headers, footers, asides and forms are
    left out too (for web pages, not book chapters).
    """
    return tree_to_markdown(
        LexborHTMLParser(strip_doctype(html)), drop_boilerplate=drop_boilerplate
    )


def tree_to_markdown(
    tree: LexborHTMLParser, *, drop_boilerplate: bool = False, svg_text: bool = False
) -> str:
    """`markup_to_markdown` for a document already parsed (it is changed: see `unspoken`).

    With `svg_text`, the text an SVG drawing writes (`<text>`) is read as a paragraph: book
    pages drawn in SVG carry their words there; a web page's charts and icons are left out.
    """
    drop_unspoken(tree)
    root = tree.body or tree.root
    if root is None:
        return ""
    converter = _Converter(drop_boilerplate=drop_boilerplate, svg_text=svg_text)
    blocks = converter.blocks(root, 0)
    return "\n\n".join(blocks)


class _Converter:
    """Recursive HTML-to-Markdown conversion; `blocks` for block context, `inline` for text."""

    def __init__(self, *, drop_boilerplate: bool, svg_text: bool = False) -> None:
        self._skipped = _SKIPPED | _BOILERPLATE if drop_boilerplate else _SKIPPED
        self._svg_text = svg_text

    # -- block context ----------------------------------------------------------------------

    def blocks(self, node: LexborNode, depth: int) -> list[str]:
        """Markdown blocks for the children of `node`; loose text becomes paragraphs."""
        blocks: list[str] = []
        inline: list[str] = []
        for child in node.iter(include_text=True):
            tag = child.tag or ""
            if tag == "svg" and self._svg_text:
                blocks.extend(_paragraphs("".join(inline)))
                inline = []
                blocks.extend(_paragraphs(escape_markdown_inline(_svg_words(child))))
                continue
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
        table_rows = _table_rows(node)
        rows = [
            [self._cell(cell, depth) for cell in row.iter() if cell.tag in ("td", "th")]
            for row in table_rows
        ]
        kept = [(row, cells) for row, cells in zip(table_rows, rows, strict=True) if any(cells)]
        rows = [cells for _, cells in kept]
        width = max((len(row) for row in rows), default=0)
        if width <= 1 or len(node.css("table")) > 1:
            # A layout table (one column, or tables in tables): read its content as blocks.
            return self.blocks(node, depth)
        if not _is_header_row(kept[0][0]):
            # Data without a header row: a Markdown table needs one, so it gets an empty one
            # (its cells are then read on their own, not each after a "header").
            rows = [[""] * width, *rows]
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
        if tag in self._skipped:
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


def _svg_words(svg: LexborNode) -> str:
    """What an SVG drawing writes: its `<text>` elements in order, a line each.

    Inside one element, spans on the same line (the same `y`) are joined as they are, since
    typesetters cut words across them ("av" + "ec"); a span on a new line starts a new word
    unless the line before ended in a space or a hyphen.
    """
    lines: list[str] = []
    for text in svg.css("text"):
        spans = text.css("tspan") or [text]
        line = ""
        last_y: str | None = None
        for span in spans:
            words = span.text(deep=True)
            y = span.attributes.get("y")
            if line and y != last_y and not line.endswith((" ", "-")):
                line += " "
            line += words
            last_y = y
        lines.append(" ".join(line.split()))
    return " ".join(line for line in lines if line)


def _collapse(text: str) -> str:
    return _HTML_WHITESPACE.sub(" ", text)


def _paragraphs(inline: str) -> list[str]:
    """Paragraph blocks from inline Markdown; `<br>` lines become hard breaks, two end it."""
    paragraphs: list[str] = []
    lines: list[str] = []
    for line in [*inline.split("\n"), ""]:
        # (Spaces run together where something between two words was left out.)
        line = _SPACE_RUN.sub(" ", line.strip())
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


def _is_header_row(row: LexborNode) -> bool:
    """A first row that heads its table: in <thead>, or all header cells, or all in bold."""
    parent = row.parent
    if parent is not None and parent.tag == "thead":
        return True
    cells = [cell for cell in row.iter() if cell.tag in ("td", "th")]
    if cells and all(cell.tag == "th" for cell in cells):
        return True  # (a <th> before <td>s heads its row, not the table)
    return bool(cells) and all(_all_bold(cell) for cell in cells if cell.text(deep=True).strip())


def _all_bold(cell: LexborNode) -> bool:
    children = [
        child
        for child in cell.iter(include_text=True)
        if child.tag != "-text" or (child.text_content or "").strip()
    ]
    return len(children) == 1 and children[0].tag in ("b", "strong")


def _table_rows(table: LexborNode) -> list[LexborNode]:
    """The table's own rows, through thead/tbody/tfoot, not those of nested tables."""
    rows: list[LexborNode] = []
    for child in table.iter():
        if child.tag == "tr":
            rows.append(child)
        elif child.tag in ("thead", "tbody", "tfoot"):
            rows.extend(row for row in child.iter() if row.tag == "tr")
    return rows
