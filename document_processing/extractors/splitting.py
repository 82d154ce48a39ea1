"""Cut Markdown into pages: at headings first, then paragraphs, sentences, words, characters.

Block structure comes from markdown-it (so a `#` inside a code fence is not a heading), but pages
are cut from the original text, line by line, so nothing is re-rendered or lost; only the blank
lines between blocks are normalised. The only text added is what keeps an oversized block valid:
a code fence re-opened and closed on each page, and a table's header row repeated on each page.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import normalizeReference
from markdown_it.token import Token

from document_processing.extractors.base import ExtractedPage, ExtractionError, ExtractionLimits
from document_processing.markdown import markdown_to_text

__all__ = [
    "Block",
    "PageBudget",
    "fit_blocks",
    "fit_markdown",
    "parse_blocks",
    "split_markdown",
    "split_text",
]

_JOINER = "\n\n"
_MAX_TITLE_CHARS = 200


@dataclass(frozen=True, slots=True)
class Block:
    """One top-level Markdown block: its source text, and its level if it is a heading."""

    text: str
    kind: str = "paragraph"
    heading_level: int = 0
    heading_title: str = ""


class PageBudget:
    """Collects pages, enforcing `max_pages` and `max_chars` as they arrive.

    Checking while pages arrive (not at the end) stops a 50,000-chapter EPUB at page 2,001
    instead of after converting every chapter.
    """

    def __init__(self, limits: ExtractionLimits) -> None:
        self._limits = limits
        self._chars = 0
        self.pages: list[ExtractedPage] = []

    def add(self, pages: Iterable[ExtractedPage]) -> None:
        for page in pages:
            self._add_one(page)

    def _add_one(self, page: ExtractedPage) -> None:
        if len(self.pages) >= self._limits.max_pages:
            raise ExtractionError(
                f"This document has more than {self._limits.max_pages:,} pages, "
                "the most we can process.",
                code="too_many_pages",
            )
        self._chars += len(page.markdown)
        if self._chars > self._limits.max_chars:
            raise ExtractionError(
                "This document has more text than we can process.", code="too_large"
            )
        self.pages.append(page)


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # Only block structure is needed: inline parsing (emphasis, links) is 97% of markdown-it's
    # time on prose and is switched off. Headings' inline content is still in `token.content`.
    return MarkdownIt("commonmark", {"html": True}).enable("table").disable("inline")


def split_markdown(
    markdown: str,
    *,
    max_chars: int,
    title: str = "",
    split_level: int | None = None,
) -> list[ExtractedPage]:
    """Pages that start at each top-level heading, each at most `max_chars` characters long.

    `split_level` is the heading level that starts a new page; by default the highest level in
    the text (a text with only `##` headings is split at those). `title` names pages that come
    before any heading. Link reference definitions (`[docs]: https://…`) are repeated on every
    page that uses them, so that `[the docs][docs]` stays a link wherever the cut falls.
    """
    blocks, definitions = _parse(markdown)
    level = split_level if split_level is not None else _top_level(blocks)
    sections = _group_at_headings(blocks, level) if level else [blocks]
    chunks = [chunk for section in sections for chunk in _fit(section, max_chars)]
    return _with_definitions(_as_pages(chunks, title), definitions)


def fit_markdown(markdown: str, *, max_chars: int, title: str = "") -> list[ExtractedPage]:
    """One page if the text fits in `max_chars`, otherwise as few pages as the cap allows."""
    return fit_blocks(parse_blocks(markdown), max_chars=max_chars, title=title)


def fit_blocks(blocks: Sequence[Block], *, max_chars: int, title: str = "") -> list[ExtractedPage]:
    """`fit_markdown` for blocks already parsed (callers that also look at the headings)."""
    return _as_pages(_fit(blocks, max_chars), title)


# ---------------------------------------------------------------------------------------------
# Blocks
# ---------------------------------------------------------------------------------------------


def parse_blocks(markdown: str) -> list[Block]:
    """The top-level blocks of `markdown`, in order, with their exact source text."""
    return _parse(markdown)[0]


def _parse(markdown: str) -> tuple[list[Block], dict[str, str]]:
    """`parse_blocks`, and each link reference definition's label and source text."""
    # markdown-it counts lines split at "\n" only; str.splitlines() would also split at
    # U+2028, form feeds and the like and put the line numbers out of step.
    text = markdown.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    env: dict[str, Any] = {}
    tokens = _parser().parse(text, env)
    blocks: list[Block] = []
    covered_until = 0
    for index, token in enumerate(tokens):
        if token.level != 0 or token.nesting < 0 or token.map is None:
            continue
        start, end = token.map
        # Lines no token claims (link reference definitions) are kept as blocks of their own.
        _append_block(blocks, lines[covered_until:start], "paragraph")
        title = _heading_title(tokens, index) if token.type == "heading_open" else ""
        level = int(token.tag[1]) if token.type == "heading_open" else 0
        _append_block(blocks, lines[start:end], _kind(token), level, title)
        covered_until = max(covered_until, end)
    _append_block(blocks, lines[covered_until:], "paragraph")
    return blocks, _definitions(env.get("references", {}), lines)


def _definitions(references: dict[str, Any], lines: Sequence[str]) -> dict[str, str]:
    """Normalised label → the definition as written, for top-level definitions (one inside a
    quote or list would bring its container along)."""
    definitions: dict[str, str] = {}
    for label, reference in references.items():
        start, end = reference.get("map") or (0, 0)
        source = "\n".join(lines[start:end]).strip("\n")
        if _DEFINITION_START.match(source):
            definitions[label] = source.lstrip(" ")
    return definitions


_DEFINITION_START = re.compile(r" {0,3}\[")
# What may be a label in use: the text between brackets, escapes allowed (CommonMark's rule).
_LABEL = re.compile(r"\[((?:[^\[\]\\]|\\.){1,999})\]")


def _with_definitions(
    pages: list[ExtractedPage], definitions: dict[str, str]
) -> list[ExtractedPage]:
    """Each page with the definitions of the reference links it uses and does not define."""
    if not definitions or len(pages) < 2:
        return pages
    carried: list[ExtractedPage] = []
    for page in pages:
        used = {normalizeReference(match.group(1)) for match in _LABEL.finditer(page.markdown)}
        missing = [
            source
            for label, source in definitions.items()
            if label in used and source not in page.markdown
        ]
        if missing:
            page = replace(page, markdown="\n\n".join([page.markdown, "\n".join(missing)]))
        carried.append(page)
    return carried


def _append_block(
    blocks: list[Block], lines: Sequence[str], kind: str, level: int = 0, title: str = ""
) -> None:
    text = "\n".join(lines).strip("\n")
    if text.strip():
        blocks.append(Block(text=text, kind=kind, heading_level=level, heading_title=title))


def _kind(token: Token) -> str:
    if token.type == "heading_open":
        return "heading"
    if token.type == "table_open":
        return "table"
    if token.type in ("fence", "code_block"):
        return token.type
    if token.type == "paragraph_open":
        return "paragraph"
    return "other"


def _heading_title(tokens: Sequence[Token], index: int) -> str:
    inline = tokens[index + 1] if index + 1 < len(tokens) else None
    if inline is None or inline.type != "inline":
        return ""
    return " ".join(markdown_to_text(inline.content).split())[:_MAX_TITLE_CHARS]


def _top_level(blocks: Sequence[Block]) -> int:
    levels = [block.heading_level for block in blocks if block.heading_level]
    return min(levels, default=0)


def _group_at_headings(blocks: Sequence[Block], level: int) -> list[list[Block]]:
    """Runs of blocks, a new run starting at each heading of `level` or higher."""
    groups: list[list[Block]] = []
    for block in blocks:
        starts_group = 0 < block.heading_level <= level
        if starts_group or not groups:
            groups.append([])
        groups[-1].append(block)
    return groups


# ---------------------------------------------------------------------------------------------
# Fitting blocks into pages
# ---------------------------------------------------------------------------------------------


def _length(blocks: Sequence[Block]) -> int:
    return sum(len(block.text) for block in blocks) + len(_JOINER) * max(len(blocks) - 1, 0)


def _fit(blocks: Sequence[Block], max_chars: int) -> list[list[Block]]:
    """Blocks packed into chunks that fit, cutting at the highest heading level available."""
    if max_chars < 1:
        raise ValueError("max_chars must be positive")
    if not blocks:
        return []
    if _length(blocks) <= max_chars:
        return [list(blocks)]
    # A section's own heading (its first block) is not a place to cut it.
    level = _top_level(blocks[1:])
    if level:
        groups = _group_at_headings(blocks, level)
        if len(groups) > 1:
            return _pack([_fit(group, max_chars) for group in groups], max_chars)
    pieces = [
        [[piece] for piece in _split_block(block, _budget(blocks, index, max_chars))]
        for index, block in enumerate(blocks)
    ]
    return _pack(pieces, max_chars)


def _budget(blocks: Sequence[Block], index: int, max_chars: int) -> int:
    """Room for the pieces of an oversized block: less if a heading comes just before it.

    Cutting the block a little shorter lets its heading share a page with its first piece,
    instead of standing alone on a page of its own.
    """
    block = blocks[index]
    previous = blocks[index - 1] if index else None
    if len(block.text) <= max_chars or previous is None or not previous.heading_level:
        return max_chars
    reserve = len(previous.text) + len(_JOINER)
    return max_chars - reserve if reserve <= max_chars // 2 else max_chars


def _pack(fitted_groups: Iterable[list[list[Block]]], max_chars: int) -> list[list[Block]]:
    """Greedily join consecutive chunks while the result still fits."""
    pages: list[list[Block]] = []
    for chunks in fitted_groups:
        for chunk in chunks:
            if pages and _length([*pages[-1], *chunk]) <= max_chars:
                pages[-1].extend(chunk)
            else:
                pages.append(list(chunk))
    return pages


def _as_pages(chunks: Iterable[Sequence[Block]], title: str) -> list[ExtractedPage]:
    """Pages titled by their first heading; `title` names the first page if it has none.

    A page with no heading of its own (the middle of a long chapter) is left untitled here:
    `extraction` names it by its first words, so that no two such pages share a name.
    """
    pages: list[ExtractedPage] = []
    for index, chunk in enumerate(chunks):
        heading = next((block.heading_title for block in chunk if block.heading_level), "")
        page_title = heading or (title if index == 0 else "")
        pages.append(ExtractedPage(markdown=_JOINER.join(b.text for b in chunk), title=page_title))
    return pages


# ---------------------------------------------------------------------------------------------
# Splitting one oversized block
# ---------------------------------------------------------------------------------------------


def _split_block(block: Block, max_chars: int) -> list[Block]:
    if len(block.text) <= max_chars:
        return [block]
    if block.kind == "fence":
        texts = _split_fence(block.text, max_chars)
    elif block.kind == "table":
        texts = _split_table(block.text, max_chars)
    elif block.kind in ("paragraph", "heading"):
        texts = split_text(block.text, max_chars, _PROSE_CUTS)
    else:
        texts = split_text(block.text, max_chars, _LINE_CUTS)
    # Only the first piece of a heading is still a heading; the rest is its overflow.
    return [
        Block(
            text=text,
            kind="fragment",
            heading_level=0 if i else block.heading_level,
            heading_title=block.heading_title if i == 0 else "",
        )
        for i, text in enumerate(texts)
    ]


def _split_fence(text: str, max_chars: int) -> list[str]:
    """A long code block as several code blocks, each opened and closed with the same fence."""
    lines = text.split("\n")
    opening = lines[0].strip()
    fence = re.match(r"`{3,}|~{3,}", opening)
    closes = len(lines) > 1 and fence is not None and lines[-1].strip().startswith(fence.group())
    inner = "\n".join(lines[1:-1] if closes else lines[1:])
    closing = fence.group() if fence else "```"
    overhead = len(opening) + len(closing) + 2
    if fence is None or overhead >= max_chars:
        return split_text(text, max_chars, _LINE_CUTS)
    parts = split_text(inner, max_chars - overhead, _LINE_CUTS, strip=False)
    return [_fenced(opening, part, closing) for part in parts if part.strip()]


def _fenced(opening: str, code: str, closing: str) -> str:
    return "\n".join((opening, code.rstrip("\n"), closing))


def _split_table(text: str, max_chars: int) -> list[str]:
    """A long table as several tables, each repeating the header row and its delimiter."""
    lines = text.split("\n")
    header = "\n".join(lines[:2])
    budget = max_chars - len(header) - 1
    if len(lines) < 3 or budget < 1:
        return split_text(text, max_chars, _LINE_CUTS)
    rows = split_text("\n".join(lines[2:]), budget, _LINE_CUTS)
    return [f"{header}\n{part}" for part in rows]


# A "cut" lists the offsets where a text may be split; the first cut that yields pieces small
# enough wins, and any piece still too long goes to the next cut.
Cut = Callable[[str], list[int]]

# Sentence ends (ASCII, ellipsis, CJK full stop and fullwidth marks), then closing quotes/brackets.
_SENTENCE_END = re.compile("[.!?\u2026\u3002\uff01\uff1f]+[\"'\u2019\u201d)\\]]*(?=\\s)")
_WHITESPACE = re.compile(r"\s+")


def _at_lines(text: str) -> list[int]:
    return [match.end() for match in re.finditer(r"\n", text)]


def _at_sentences(text: str) -> list[int]:
    return [match.end() for match in _SENTENCE_END.finditer(text)]


def _at_words(text: str) -> list[int]:
    return [match.start() for match in _WHITESPACE.finditer(text)]


_PROSE_CUTS: tuple[Cut, ...] = (_at_sentences, _at_lines, _at_words)
_LINE_CUTS: tuple[Cut, ...] = (_at_lines, _at_sentences, _at_words)


def split_text(
    text: str, max_chars: int, cuts: Sequence[Cut] = _PROSE_CUTS, *, strip: bool = True
) -> list[str]:
    """`text` in pieces of at most `max_chars`, cut at the first kind of boundary that works.

    With `strip`, whitespace at the edges of each piece is dropped and empty pieces skipped;
    without, the pieces concatenate back to `text` exactly (used inside code fences).
    """
    pieces = _split_recursive(text, max_chars, tuple(cuts))
    if not strip:
        return pieces
    return [piece.strip() for piece in pieces if piece.strip()]


def _split_recursive(text: str, max_chars: int, cuts: tuple[Cut, ...]) -> list[str]:
    if len(text) <= max_chars:
        return [text]
    if not cuts:
        # No boundary left: a hard cut, e.g. a 30,000-character URL or a line of digits.
        return [text[i : i + max_chars] for i in range(0, len(text), max_chars)]
    segments = _cut(text, cuts[0](text))
    if len(segments) == 1:
        return _split_recursive(text, max_chars, cuts[1:])
    pieces: list[str] = []
    for segment in segments:
        for piece in _split_recursive(segment, max_chars, cuts[1:]):
            if pieces and len(pieces[-1]) + len(piece) <= max_chars:
                pieces[-1] += piece
            else:
                pieces.append(piece)
    return pieces


def _cut(text: str, offsets: Iterable[int]) -> list[str]:
    bounds = [0, *sorted({offset for offset in offsets if 0 < offset < len(text)}), len(text)]
    return [text[start:end] for start, end in itertools.pairwise(bounds)]
