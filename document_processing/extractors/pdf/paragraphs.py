"""Lines joined into paragraphs, and paragraphs written as Markdown.

Lines are joined using their positions: a gap, an indent, a change of size or a line that ends
early starts a new paragraph; a word broken at a line end is mended. Short, larger lines become
`##` headings (the first one is the page title), bullets a list; all other text is escaped so
that the Markdown renders as exactly that text. "Larger" is measured against the body text
size of the whole document, also decided here.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass

from document_processing.extractors.pdf.lines import _BREAK_MARK, _Box, _Line
from document_processing.markdown import (
    escape_markdown,
    escape_markdown_line_starts,
    markdown_heading,
)

# The body text size is measured on this many pages at most, spread over the document.
_BODY_SAMPLE_PAGES = 64
_BROKEN_WORD = re.compile(r"([^\W\d_]*)\x02(\w*)")
_HYPHENATED_WORD = re.compile(r"(?<![^\W\d_])[^\W\d_]+(?:-[^\W\d_]+)+")  # from a word's start
_BULLETS = frozenset("•●▪◦‣∙■□➢►✓*")
_LIST_STARTS = _BULLETS | frozenset("0123456789(")
_NUMBERED = re.compile(r"\(?(?:\d{1,3}|[a-z])[.)] ")
_SENTENCE_ENDS = tuple('.:;!?)"\u201d\u2019')  # closing quotes count
# What escape_markdown_inline and escape_markdown_line_starts act on (a test keeps these in step
# with them), to skip them on text without any.
_INLINE_MARKUP = tuple("\\`*_[]<>|~&")
_INLINE_SPECIALS = "\\`*_[]<>|~"
_ENTITY_LIKE = re.compile(r"&(?=#?[0-9A-Za-z]+;)")  # "&" is markup only as an entity
_LINE_START_MARKUP = frozenset("#>+=-0123456789")


@dataclass(slots=True)
class _Paragraph:
    text: str
    heading: bool = False


@dataclass(frozen=True, slots=True)
class _Metrics:
    body_height: float  # the line height of most of the document's text
    pitch: float  # median distance between baselines of consecutive body lines; 0 when unknown

    @classmethod
    def of(cls, lines: Sequence[_Line], body_height: float) -> _Metrics:
        low, high = 0.8 * body_height, 3 * body_height
        bottoms = [line.box.bottom for line in lines if line.box is not None]
        steps = [a - b for a, b in itertools.pairwise(bottoms) if low < a - b < high]
        return cls(body_height, _median(steps) if steps else 0.0)


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0


def _body_sample_step(page_count: int) -> int:
    """The body text size is measured on every step-th page (from the first): the whole
    document, or pages spread over it, which tell as much."""
    return max(1, page_count // _BODY_SAMPLE_PAGES)


def _count_heights(lines: Iterable[_Line], chars_by_height: dict[float, int]) -> None:
    # Few distinct heights: counting them is cheaper than sorting lines.
    for line in lines:
        if line.box is not None:
            height = line.box.height
            chars_by_height[height] = chars_by_height.get(height, 0) + len(line.text)


def _median_height(chars_by_height: dict[float, int]) -> float:
    """The line height of the document's body text: the height in the middle of all the text,
    counted in characters rather than lines. Taken over the whole document, so that a page of
    small print does not turn its ordinary sentences into headings."""
    half = sum(chars_by_height.values()) / 2
    seen = 0
    for height, chars in sorted(chars_by_height.items()):
        seen += chars
        if seen >= half:
            return height
    return 0.0


def _is_larger(line: _Line, body_height: float) -> bool:
    return line.box is not None and body_height > 0 and line.box.height > 1.2 * body_height


def _is_larger_height(height: float | None, body_height: float) -> bool:
    """_is_larger for a line of this height (None: a line without a box)."""
    return height is not None and body_height > 0 and height > 1.2 * body_height


def _paragraphs(
    lines: Sequence[_Line], metrics: _Metrics, hyphenated: Container[str]
) -> list[_Paragraph]:
    groups: list[list[_Line]] = []
    if lines:
        groups.append([lines[0]])
    pitch = metrics.pitch
    for prev, line, right_margin in zip(lines, lines[1:], _right_margins(lines), strict=False):
        text = line.text
        # Inline and cheapest first: this runs for every line.
        if (
            line.starts_block
            or ((text[0] in _LIST_STARTS or text[1:2] in (".", ")")) and _starts_list(prev, text))
            or (
                prev.box is not None
                and line.box is not None
                and _layout_break(prev.text, prev.box, text, line.box, pitch, right_margin)
            )
        ):
            groups.append([line])
        else:
            groups[-1].append(line)
    return [_paragraph(group, metrics, hyphenated) for group in groups]


def _right_margins(lines: Sequence[_Line]) -> list[float]:
    """For each line, where the lines of its column usually end: a high quantile, not the
    maximum, so that one wide formula does not make every other line look short.

    A column is a run of lines down the page: it ends where the source starts a block or the
    next line goes back up (the next column).
    """
    margins: list[float] = []
    column: list[_Line] = []
    above: _Box | None = None
    for line in lines:
        below = line.box
        goes_up = (
            above is not None
            and below is not None
            and below.bottom > above.bottom + 0.5 * above.height
        )
        if column and (line.starts_block or goes_up):
            margins.extend(_column_margin(column))
            column = []
        column.append(line)
        above = below
    margins.extend(_column_margin(column))
    return margins


def _column_margin(column: Sequence[_Line]) -> list[float]:
    rights = sorted([line.box.right for line in column if line.box is not None])
    if len(rights) >= 5:
        margin = rights[int(0.8 * (len(rights) - 1))]
    else:
        margin = rights[-1] if rights else 0.0
    return [margin] * len(column)


def _is_bullet(text: str) -> bool:
    return text[0] in _BULLETS and text[1:2] == " "


def _is_numbered(text: str) -> bool:
    # Checked by hand first: this runs for every line and the pattern rarely applies.
    first = text[0]
    return (first.isdigit() or first == "(" or text[1:2] in (".", ")")) and bool(
        _NUMBERED.match(text)
    )


def _starts_list(prev: _Line, text: str) -> bool:
    if _is_bullet(text):
        return True
    # "2. " starting a wrapped line is common enough that a list needs the line before to end.
    return _is_numbered(text) and prev.text.endswith(_SENTENCE_ENDS)


def _layout_break(
    prev_text: str, above: _Box, text: str, below: _Box, pitch: float, right_margin: float
) -> bool:
    # Runs for every line: plain arithmetic on unpacked boxes.
    above_left, above_bottom, above_right, _, above_height = above
    below_left, below_bottom, _, _, below_height = below
    height = above_height if above_height > below_height else below_height
    if below_bottom > above_bottom + 0.5 * height:
        return True  # back up the page: a new column or region
    if abs(above_height - below_height) > 0.2 * height:
        return True  # a change of size: heading to body or body to footnote
    if pitch and above_bottom - below_bottom > 1.3 * pitch + 0.1 * height:
        return True  # extra space between lines
    if prev_text[-1] in "-\x02":
        return False  # a word continues on the next line
    char_width = (above_right - above_left) / len(prev_text)
    next_word = text.find(" ")
    if next_word < 0:
        next_word = len(text)
    if right_margin - above_right > (next_word + 2) * char_width:
        return True  # the next word would have fitted: the line ended on purpose
    indent = below_left - above_left
    if not 1.5 * char_width < indent < 15 * char_width:
        return False
    return not (_is_bullet(prev_text) or _is_numbered(prev_text))  # a first-line indent


def _paragraph(group: Sequence[_Line], metrics: _Metrics, hyphenated: Container[str]) -> _Paragraph:
    text = _join_lines([line.text for line in group], hyphenated)
    heading = (
        len(group) <= 2
        and len(text) <= 150
        and all(_is_larger(line, metrics.body_height) for line in group)
    )
    return _Paragraph(text, heading=heading)


def _join_lines(texts: Sequence[str], hyphenated: Container[str]) -> str:
    parts: list[str] = []
    for text in texts:
        if not parts or parts[-1].endswith(_BREAK_MARK):
            parts.append(text)
        elif parts[-1].endswith("-") and parts[-1][-2:-1].isalpha():
            parts[-1] = parts[-1][:-1] + _BREAK_MARK
            parts.append(text)
        else:
            parts.extend((" ", text))
    joined = "".join(parts)
    if _BREAK_MARK not in joined:
        return joined
    joined = _BROKEN_WORD.sub(lambda m: _mend(m[1], m[2], hyphenated), joined)
    return joined.replace(_BREAK_MARK, "-")


def _mend(head: str, tail: str, hyphenated: Container[str]) -> str:
    """Join a word broken at a line end, keeping the hyphen where it belongs to the word."""
    if not head or not tail or not tail[0].islower():
        return f"{head}-{tail}"  # "COVID-19", "Jean-Pierre", or nothing to join
    if f"{head}-{tail}".lower() in hyphenated:
        return f"{head}-{tail}"  # the document writes it with a hyphen elsewhere
    return head + tail


def _hyphenated_words(text: str) -> list[str]:
    """The words of a line written with a hyphen, in lower case: when a word broken at a line
    end is written with a hyphen elsewhere in the document, the hyphen stays."""
    return [found.lower() for found in _HYPHENATED_WORD.findall(text)]


def _markdown(paragraphs: Sequence[_Paragraph]) -> str:
    """The page as Markdown that renders as its text: escaped, with headings and bullets."""
    texts = [paragraph.text for paragraph in paragraphs]
    joined = "\n\n".join(texts)
    # Most pages hold none of these characters, and looking for each is much cheaper than the
    # escaping pattern; when there are some, one pass for the page (paragraphs hold no newline).
    if any(char in joined for char in _INLINE_MARKUP):
        texts = _escape_inline(joined).split("\n\n")
    return "\n\n".join(
        _paragraph_markdown(paragraph, text)
        for paragraph, text in zip(paragraphs, texts, strict=True)
    )


def _escape_inline(text: str) -> str:
    """What markdown.escape_markdown_inline returns (a test holds them equal), by plain
    replacements: its pattern calls back into Python for every match, which on a page of code
    (an underscore in every name) costs about as much as reading the page."""
    for char in _INLINE_SPECIALS:  # the backslash first, so no added one is escaped again
        if char in text:
            text = text.replace(char, f"\\{char}")
    if "&" in text:
        text = _ENTITY_LIKE.sub(r"\\&", text)
    return text


def _paragraph_markdown(paragraph: _Paragraph, escaped: str) -> str:
    if paragraph.heading:
        return markdown_heading(escaped, 2)
    if _is_bullet(paragraph.text):
        return f"- {escape_markdown(paragraph.text[2:])}"
    if escaped[0] in _LINE_START_MARKUP:  # a paragraph's only line start is its first character
        return escape_markdown_line_starts(escaped)
    return escaped
