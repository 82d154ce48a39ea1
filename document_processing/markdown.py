"""Markdown for pages: safe HTML for the browser, plain text for speech, escaping for extractors.

Page Markdown comes from uploaded documents, so it is hostile input. Rendering therefore switches
raw HTML off in the parser *and* sanitises the output with nh3 (ammonia): either alone would be one
bug away from stored XSS in a document shared with other people.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from selectolax.lexbor import LexborHTMLParser

from document_processing.site_syntax import strip_site_syntax

__all__ = [
    "escape_markdown",
    "escape_markdown_inline",
    "escape_markdown_line_starts",
    "first_words",
    "markdown_heading",
    "markdown_to_text",
    "render_markdown",
    "wrap_emphasis",
]

# What rendered Markdown may contain. No <img>: a page shared with others must not make their
# browsers fetch a URL chosen by the uploader (tracking pixels); images render as their alt text.
_ALLOWED_TAGS = frozenset(
    {
        "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
        "hr", "li", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th", "thead",
        "tr", "ul",
    }
)  # fmt: skip
_ALLOWED_ATTRIBUTES = {"a": frozenset({"href", "title"}), "ol": frozenset({"start"})}
_ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto"})
_LINK_REL = "noopener noreferrer nofollow"


def _render_image_as_alt(
    self: RendererHTML,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    """Render `![alt](src)` as its escaped alt text, never as an <img>."""
    children = tokens[idx].children or []
    return self.renderInlineAsText(children, options, env)


@lru_cache(maxsize=1)
def _html_parser() -> MarkdownIt:
    # html=False: raw HTML in the Markdown is shown as text, not passed through.
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.add_render_rule("image", _render_image_as_alt)
    return md


@lru_cache(maxsize=1)
def _text_parser() -> MarkdownIt:
    # For speech, raw HTML is recognised so its tags can be dropped and only its text spoken.
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    # URLs are never spoken, so the costly percent-encoding and punycode of each is skipped.
    md.normalizeLink = _unchanged  # type: ignore[method-assign]
    return md


def _unchanged(url: str) -> str:
    return url


@lru_cache(maxsize=1)
def _cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=set(_ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes={tag: set(attrs) for tag, attrs in _ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(_ALLOWED_URL_SCHEMES),
        link_rel=_LINK_REL,
        strip_comments=True,
        # Relative links would point into Pagecast itself (a shared page linking to an action
        # of the app); page Markdown has no business linking there.
        url_relative="deny",
    )


# Pages are shown far more often than they change: the API's page and the reader render the same
# Markdown again and again (a long page takes milliseconds).
@lru_cache(maxsize=64)
def render_markdown(markdown: str) -> str:
    """Markdown (CommonMark + tables) to HTML that is safe to put in a page as it is."""
    html = _html_parser().render(markdown)
    return _cleaner().clean(html)


# ---------------------------------------------------------------------------------------------
# Markdown to plain text for speech
# ---------------------------------------------------------------------------------------------

_HTML_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"[^\S\n]+")
_NOT_SPOKEN_HTML = ("script", "style", "template", "noscript")


# Anything that could be Markdown syntax: inline markers, entities, line-start markers, code
# indentation (four columns: a tab after up to three spaces reaches them), hard-break trailing
# spaces. Text with none of them is plain prose.
_MAYBE_SYNTAX = re.compile(
    r"[\\`*_\[\]<>#|&~]|^[ \t]*(?:[-+=>]|\d+[.)])|^(?: {4}| {0,3}\t)| {2}$", re.M
)
# _MAYBE_SYNTAX in three quicker parts (a test holds them equal): one pattern trying every
# alternative at every character costs more than all the rest of the plain-prose path.
_SYNTAX_CHARS = tuple("\\`*_[]<>#|&~")
_SYNTAX_LINE_START = re.compile(r"\n(?:[ \t]*(?:[-+=>]|\d+[.)])| {4}| {0,3}\t)")
# A backslash escape of ASCII punctuation: that character as text, never syntax.
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


def markdown_to_text(markdown: str) -> str:
    """Plain text to be read aloud: no Markdown syntax, no URLs, paragraphs split by blank lines.

    What a reader skips is not in it: site-generator syntax and footnote marks (see
    `site_syntax`), badge images; a table is read row by row, each cell after its header.
    """
    markdown = strip_site_syntax(markdown.replace("\r\n", "\n").replace("\r", "\n"))
    # Plain prose (most pages of most documents) skips the parser, which would only re-join
    # lines and costs milliseconds a page; so does prose whose only syntax is escapes (as
    # extractors write text that could be read as syntax), once they are undone.
    if not _maybe_syntax(markdown):
        return _plain_text(markdown)
    # An escaped character is never syntax, nor part of any: with each escape as a letter, is
    # anything else left?
    if "\\" in markdown and not _maybe_syntax(_ESCAPE.sub("x", markdown)):
        return _plain_text(_ESCAPE.sub(_escaped_char, markdown))
    return _join_blocks(_parsed_blocks(markdown))


def _maybe_syntax(markdown: str) -> bool:
    """Whether _MAYBE_SYNTAX finds anything in the text."""
    return (
        any(char in markdown for char in _SYNTAX_CHARS)
        or "  \n" in markdown
        or markdown.endswith("  ")
        or _SYNTAX_LINE_START.search("\n" + markdown) is not None
    )


def _escaped_char(match: re.Match[str]) -> str:
    return match[1]


def _plain_text(markdown: str) -> str:
    """What the parser makes of text without syntax: paragraphs at blank lines, each on one
    line with single spaces (_join_blocks of one-line blocks, in one step)."""
    blocks = (" ".join(block.split()) for block in _BLANK_LINE.split(markdown))
    return "\n\n".join(block for block in blocks if block)


def _parsed_blocks(markdown: str) -> list[str]:
    return _TextCollector().collect(_text_parser().parse(markdown))


def _join_blocks(blocks: Iterable[str]) -> str:
    cleaned = (_normalise_block(block) for block in blocks)
    return "\n\n".join(block for block in cleaned if block)


class _TextCollector:
    """Walks markdown-it block tokens and turns each leaf block into one text block."""

    def __init__(self) -> None:
        self._blocks: list[str] = []
        self._row: list[str] | None = None
        self._in_head = False
        self._header: list[str] = []
        self._body_rows = 0

    def collect(self, tokens: Sequence[Token]) -> list[str]:
        for token in tokens:
            self._visit(token)
        return self._blocks

    def _visit(self, token: Token) -> None:
        if token.type == "table_open":
            self._header, self._body_rows = [], 0
        elif token.type == "thead_open":
            self._in_head = True
        elif token.type == "thead_close":
            self._in_head = False
        elif token.type == "tr_open":
            self._row = []
        elif token.type == "tr_close":
            self._end_row()
        elif token.type == "table_close":
            self._end_table()
        elif token.type == "inline":
            self._add_inline(token)
        elif token.type in ("fence", "code_block"):
            self._blocks.append(token.content)
        elif token.type == "html_block":
            self._blocks.append(_html_text(token.content))

    def _add_inline(self, token: Token) -> None:
        text = _inline_text(token.children or [])
        if self._row is not None:
            self._row.append(" ".join(text.split()))
        else:
            self._blocks.append(text)

    def _end_row(self) -> None:
        # A table is read a row at a time, each cell after its column's header ("Name: Ann,
        # Age: 30."), as a person reads one out; the header row itself is not read on its own.
        row = self._row or []
        self._row = None
        if self._in_head:
            self._header = row
            return
        self._body_rows += 1
        cells = [
            f"{header}: {cell}" if header and header != cell else cell
            for header, cell in zip([*self._header, *[""] * len(row)], row, strict=False)
            if cell
        ]
        if not any(self._header) and len(cells) == 2:
            cells = [f"{cells[0]}: {cells[1]}"]  # no header: a label and its value
        if cells:
            self._blocks.append(_sentence(", ".join(cells)))

    def _end_table(self) -> None:
        header = [cell for cell in self._header if cell]
        if not self._body_rows and header:
            self._blocks.append(_sentence(", ".join(header)))  # a table of headers alone


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?", "\u3002")) else text + "."


def _inline_text(children: Sequence[Token]) -> str:
    parts: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
        elif child.type == "image":
            # Alt text stands in for the picture; an image without one is simply skipped, and
            # so is a badge ("build passing", "coverage 98%"), which is decoration.
            if not _is_badge(str(child.attrGet("src") or "")):
                parts.append(_inline_text(child.children or []))
        elif child.type == "html_inline":
            parts.append(_HTML_TAG.sub("", child.content))
        # link_open/link_close and emphasis markers carry no words: the link text is a child.
    return "".join(parts)


# Where status badges come from: badge services, CI and coverage services' badge URLs.
_BADGE_HOSTS = (
    "shields.io", "badgen.net", "badge.fury.io", "travis-ci.org", "travis-ci.com",
    "circleci.com", "codecov.io", "coveralls.io", "ci.appveyor.com", "codeclimate.com",
    "app.codacy.com", "api.codacy.com", "snyk.io", "pepy.tech", "sonarcloud.io",
    "bestpractices.coreinfrastructure.org", "www.bestpractices.dev", "deepsource.io",
    "gitter.im", "mybinder.org", "zenodo.org/badge", "anaconda.org", "godoc.org",
    "pkg.go.dev/badge", "goreportcard.com", "img.badgesize.io", "requires.io", "david-dm.org",
)  # fmt: skip
_BADGE_PATH = re.compile(r"badge|/status\.svg|/workflows/[^?#]*\.svg|/shield", re.IGNORECASE)


def _is_badge(src: str) -> bool:
    address = src.strip().lower()
    if not address.startswith(("http://", "https://", "//")):
        return bool(_BADGE_PATH.search(address))
    host_and_path = address.split("//", 1)[1]
    return any(host in host_and_path.split("?", 1)[0] for host in _BADGE_HOSTS) or bool(
        _BADGE_PATH.search(host_and_path)
    )


def _html_text(html: str) -> str:
    tree = LexborHTMLParser(html)
    for node in tree.css(", ".join(_NOT_SPOKEN_HTML)):
        node.decompose()
    root = tree.body or tree.root
    return root.text(separator=" ") if root is not None else ""


def _normalise_block(block: str) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in block.split("\n"))
    return "\n".join(line for line in lines if line)


def first_words(text: str, *, max_chars: int = 60) -> str:
    """The start of `text` on one line, at most `max_chars` long, cut after a whole word.

    A cut is marked with "…". Text without spaces (Chinese, Japanese) is cut where it must be.
    """
    words = " ".join(text[: max_chars * 4].split())
    if len(words) <= max_chars:
        return words
    room = words[: max_chars - 1]
    cut = room.rfind(" ")
    ends_a_word = words[len(room)] == " "
    if not ends_a_word and cut >= max_chars // 3:
        room = room[:cut]
    return room.rstrip(" ,;:.-\u2013\u2014") + "\u2026"


# ---------------------------------------------------------------------------------------------
# Escaping, for extractors that turn other formats' text into Markdown
# ---------------------------------------------------------------------------------------------

# Characters that start inline syntax anywhere in a line.
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
# An ampersand only matters when it would be read as an entity (`&amp;`, `&#123;`).
_ENTITY_LIKE = re.compile(r"&(?=#?[0-9A-Za-z]+;)")
# Line starts that would become a heading, quote, list item, rule or setext underline.
_BLOCK_START = re.compile(r"^([ \t]*)([#>+=-]|\d{1,9}(?=[.)]))", re.MULTILINE)
# Four leading spaces would turn a line into a code block.
_INDENT = re.compile(r"^[ \t]+", re.MULTILINE)


def escape_markdown_inline(text: str) -> str:
    """Backslash-escape characters that would start inline Markdown syntax."""
    return _ENTITY_LIKE.sub(r"\\&", _INLINE_SPECIAL.sub(r"\\\1", text))


def escape_markdown_line_starts(text: str) -> str:
    """Escape what would make a line a heading, list item, quote or code block."""
    unindented = _INDENT.sub("", text)
    return _BLOCK_START.sub(_escape_block_start, unindented)


def _escape_block_start(match: re.Match[str]) -> str:
    marker = match.group(2)
    if marker.isdigit():
        # "1. Introduction" must stay a sentence, not become an ordered list: escape the dot.
        return f"{match.group(1)}{marker}\\"
    return f"{match.group(1)}\\{marker}"


def escape_markdown(text: str) -> str:
    """Escape plain text so that it renders as exactly that text."""
    return escape_markdown_line_starts(escape_markdown_inline(text))


def wrap_emphasis(inner: str, marker: str) -> str:
    """`inner` between emphasis markers, spaces kept outside: `** bold **` is not emphasis."""
    core = inner.strip()
    if not core or "\n" in core:
        return inner
    lead = inner[: len(inner) - len(inner.lstrip())]
    trail = inner[len(inner.rstrip()) :]
    return f"{lead}{marker}{core}{marker}{trail}"


def markdown_heading(inline: str, level: int) -> str:
    """An ATX heading for inline Markdown (already escaped), on one line; "" if it is empty."""
    title = " ".join(inline.split())
    if not title:
        return ""
    if title.endswith("#"):
        # A trailing "#" would be read as the heading's optional closing sequence.
        title = f"{title[:-1]}\\#"
    return f"{'#' * min(max(level, 1), 6)} {title}"


def markdown_table(rows: list[list[str]], width: int) -> str:
    """A Markdown table whose first row is the header; short rows are padded to `width`."""
    padded = [row + [""] * (width - len(row)) for row in rows]
    lines = [_table_line(padded[0]), _table_line(["---"] * width)]
    lines.extend(_table_line(row) for row in padded[1:])
    return "\n".join(lines)


def _table_line(cells: list[str]) -> str:
    return "| " + " | ".join(cell or " " for cell in cells) + " |"
