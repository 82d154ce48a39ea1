"""Markdown written for site generators and wikis: the parts of it that are not words to read.

Documentation sites (MkDocs with Material and PyMdown, Jekyll, Hugo) extend Markdown with syntax
that a plain CommonMark reader shows as text: front matter and meta lines, attribute lists
(`## Setup { #setup }`, `{: .note }`), admonitions (`!!! note "Title"` over an indented body,
which CommonMark takes for a code block), content tabs (`=== "Tab"`), footnote marks (`[^1]`),
`[TOC]`, abbreviation definitions, icon shortcodes, snippet and API-reference directives.
`strip_site_syntax` turns a page's Markdown into the CommonMark that says what a reader of the
built site sees: the admonition's title over its body, no marks or directives. Wikipedia's
"[edit]" goes too.

Code (fenced blocks and code spans) is left as written: documentation shows this very syntax.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

__all__ = ["strip_site_syntax"]

# Cheap signs that any rule below could apply; a page with none is returned as it is.
_SIGNS = (
    "!!!", "???", "===", "{", "[^", "[TOC]", "*[", "--8<--", ":::", "[edit",
    ":material-", ":octicons-", ":fontawesome-", ":simple-",
)  # fmt: skip

_FENCE = re.compile(r"( {0,3})(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+).+?(?<!`)\1(?!`)")
_ADMONITION = re.compile(
    r"([ \t]*)(?:!!!|\?\?\?\+?)[ \t]*([\w-]+)(?:[ \t]+[\w-]+)*(?:[ \t]+\"([^\"\n]*)\")?[ \t]*"
)
_TAB = re.compile(r"([ \t]*)===\+?[ \t]+\"([^\"\n]*)\"[ \t]*")
_ATTRIBUTE = r"(?:[#.][\w-]+|[\w-]+=(?:\"[^\"\n]*\"|'[^'\n]*'|[^\s{}\"']+))"
_ATTRIBUTE_LIST = re.compile(
    rf"[ \t]*(?<!\\)\{{:?[ \t]*{_ATTRIBUTE}(?:[ \t]+{_ATTRIBUTE})*[ \t]*\}}|[ \t]*\{{:[ \t]*\}}"
)
_FOOTNOTE_DEFINITION = re.compile(r"( {0,3})\[\^[^\]\s]{1,50}\]:[ \t]*")
_FOOTNOTE_MARK = re.compile(r"(?<!\\)\[\^[^\]\s]{1,50}\](?!:)")
_EDIT_LINK = re.compile(r"[ \t]*\\?\[edit(?: source)?\\?\]")
# Material for MkDocs' icon shortcodes (`:octicons-file-code-16:`), drawn, never read.
_ICON = re.compile(
    r"(?<![\w:]):(?:material|octicons|fontawesome|simple)-[a-z0-9-]+:(?![\w:])[ \t]?"
)
# Lines that are only a directive: "[TOC]", "*[HTML]: Hyper Text…", "--8<-- "file.md"",
# "::: package.module".
_DIRECTIVE = re.compile(
    r"[ \t]*(?:\[TOC\]|\*\[[^\]\n]+\]:.*|-{1,2}8<-{1,2}(?:[ \t].*)?|:::[ \t]+[\w.:-]+[ \t]*)"
)
_YAML_KEY = re.compile(r"[\w-]+[ \t]*:")
# Python-Markdown's meta lines, without front-matter fences: only keys sites use, two or more.
_META_LINE = re.compile(
    r"(?:title|authors?|date|summary|template|description|tags|keywords|slug|category"
    r"|categories|status|lang|modified|created)[ \t]*:[ \t]*\S.*",
    re.IGNORECASE,
)
_MAX_FRONT_MATTER_LINES = 200
_TAB_WIDTH = 4


def strip_site_syntax(markdown: str) -> str:
    """`markdown` as CommonMark a reader of the built site would read (see the docstring)."""
    if not any(sign in markdown for sign in _SIGNS) and not _may_have_meta(markdown):
        return markdown
    lines = markdown.split("\n")
    start = _meta_end(lines)
    return "\n".join(_converted(lines[start:]))


def _may_have_meta(markdown: str) -> bool:
    return markdown.startswith("---") or _META_LINE.match(markdown) is not None


def _meta_end(lines: Sequence[str]) -> int:
    """How many lines at the start are front matter or meta lines (0: none)."""
    if lines and lines[0].rstrip() == "---":
        for index in range(1, min(len(lines), _MAX_FRONT_MATTER_LINES)):
            if lines[index].rstrip() in ("---", "..."):
                body = lines[1:index]
                return index + 1 if any(_YAML_KEY.match(line) for line in body) else 0
        return 0
    count = 0
    for line in lines:
        if not line.strip():
            break
        if not (_META_LINE.fullmatch(line.rstrip()) or (count and line.startswith("    "))):
            return 0
        count += 1
    return count if count >= 2 else 0


def _converted(lines: Sequence[str]) -> Iterator[str]:
    fence: tuple[str, int] | None = None  # the open fence's character and length
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        opening = _FENCE.match(line)
        if fence is not None:
            if opening and _closes(opening, line, fence):
                fence = None
            yield line
            continue
        if opening:
            fence = (opening.group(2)[0], len(opening.group(2)))
            yield line
            continue
        block = _ADMONITION.fullmatch(line) or _TAB.fullmatch(line)
        if block is not None:
            indent = block.group(1)
            body_end = _indented_end(lines, index, len(_expanded(indent)) + _TAB_WIDTH)
            title = _inline(_block_title(block)).strip()
            if title:
                yield f"{indent}{title}"
                yield ""
            yield from _converted([_dedented(body, indent) for body in lines[index:body_end]])
            index = body_end
            continue
        if _DIRECTIVE.fullmatch(line):
            continue
        yield _inline(line)


def _closes(opening: re.Match[str], line: str, fence: tuple[str, int]) -> bool:
    marker = opening.group(2)
    return marker[0] == fence[0] and len(marker) >= fence[1] and not line[opening.end() :].strip()


def _block_title(block: re.Match[str]) -> str:
    if block.re is _TAB:
        return block.group(2).strip()
    title = block.group(3)
    if title is not None:
        return title.strip()  # `!!! note ""` has no title at all
    return block.group(2).replace("-", " ").replace("_", " ").capitalize()


def _expanded(indent: str) -> str:
    return indent.expandtabs(_TAB_WIDTH)


def _indented_end(lines: Sequence[str], start: int, width: int) -> int:
    """Where the block indented at least `width` columns that starts at `start` ends; blank
    lines inside it belong to it, blank lines after it do not."""
    end = start
    for index in range(start, len(lines)):
        line = lines[index]
        if not line.strip():
            continue
        leading = len(line) - len(line.lstrip(" \t"))
        if len(_expanded(line[:leading])) < width:
            break
        end = index + 1
    return end


def _dedented(line: str, indent: str) -> str:
    """`line` (blank, or indented past `indent`) one level, four columns, less indented."""
    if not line.strip():
        return ""
    leading = len(line) - len(line.lstrip(" \t"))
    expanded = _expanded(line[:leading]) + line[leading:]
    prefix = len(_expanded(indent))
    return expanded[:prefix] + expanded[prefix + _TAB_WIDTH :]


def _inline(line: str) -> str:
    """The line without attribute lists, footnote marks and edit links, code spans kept."""
    if "{" not in line and "[" not in line and ":" not in line:
        return line
    definition = _FOOTNOTE_DEFINITION.match(line)
    if definition:
        line = definition.group(1) + line[definition.end() :]
    pieces: list[str] = []
    position = 0
    for span in _CODE_SPAN.finditer(line):
        pieces.append(_outside_code(line[position : span.start()]))
        pieces.append(span.group())
        position = span.end()
    pieces.append(_outside_code(line[position:]))
    return "".join(pieces)


def _outside_code(text: str) -> str:
    if "{" in text:
        text = _ATTRIBUTE_LIST.sub("", text)
    if "[" in text:
        text = _FOOTNOTE_MARK.sub("", text)
        text = _EDIT_LINK.sub("", text)
    if ":" in text:
        text = _ICON.sub("", text)
    return text
