"""Pages that are a table of contents: kept for reading, passed over when listening.

Extractors mark the contents pages a format names as such (an EPUB's navigation document, a
page of a book that is nearly all links). `looks_like_contents` finds the rest from a page's
Markdown alone, whatever its format: a page headed "Contents" (in a dozen languages) that is a
list, or a page whose lines are mostly entries with page numbers ("Chapter 1 ....... 5") or
Markdown links. It errs towards "not contents": a chapter passed over is worse than a table of
contents read aloud.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import Any, TypeVar

__all__ = ["looks_like_contents", "to_listen"]

P = TypeVar("P")

# What tables of contents are called, lower-case, as the whole of a heading or title.
_CONTENTS_TITLES = frozenset(
    {
        "contents", "table of contents", "toc", "index of chapters", "list of chapters",
        "inhalt", "inhaltsverzeichnis", "table des matières", "table des matieres", "sommaire",
        "índice", "indice", "contenido", "contenidos", "índice general", "sommario",
        "sumário", "sumario", "inhoud", "inhoudsopgave", "innehåll", "innhold",
        "indholdsfortegnelse", "sisällys", "sisällysluettelo", "spis treści", "obsah",
        "tartalom", "tartalomjegyzék", "cuprins", "içindekiler", "содержание", "оглавление",
        "зміст", "περιεχόμενα", "תוכן העניינים", "المحتويات", "فهرست", "सामग्री",
        "विषय सूची", "目次", "目录", "目錄", "차례", "목차", "mục lục", "สารบัญ",
    }
)  # fmt: skip
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)[ \t#]*$")
# An entry that ends in a page number, with or without leaders: "Chapter 1 ......... 5".
_PAGE_ENTRY = re.compile(r"\S.*?(?:\s|\.|\u2026|_|\u00b7)\s*(?:\d{1,4}|[ivxlcdm]{1,7})\s*$", re.I)
# The lookahead changes no match: it lets the search pass over other characters at once.
_LEADERS = re.compile(r"(?=[.\u2026_\u00b7])(?:(?:\.\s*){4,}|\u2026{2,}|_{4,}|(?:\u00b7\s*){4,})")
# Two dots with nothing but space between: the start of any run of dots _LEADERS finds. Most
# prose has none, and a search for it skips from dot to dot, ten times faster than _LEADERS.
_TWO_DOTS = re.compile(r"\.\s*\.")
# A list item that is only a link: "- [Intro](intro.md)", "1. [Setup](#setup)".
_LINK_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,4}[.)])\s+\[[^\]]+\]\([^)]*\)\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,4}[.)])\s+\S")
_ESCAPE = re.compile(r"\\(.)")

_MIN_ENTRIES = 5
_LIST_SHARE = 0.6  # under a "Contents" heading
_ENTRY_SHARE = 0.7  # without one
_CHARS_PER_ENTRY = 120  # leaders at least this dense: a printed table of contents


def looks_like_contents(markdown: str, *, title: str = "") -> bool:
    """Whether a page's Markdown is a table of contents (see the module's docstring)."""
    lines = [line for line in markdown.split("\n") if line.strip()]
    if not lines:
        return False
    heading = _HEADING.match(lines[0])
    named = _is_contents_title(heading.group(1) if heading else "") or (
        heading is None and _is_contents_title(title)
    )
    body = lines[1:] if heading else lines
    text = "\n".join(body)
    # Leaders count where a PDF's lines were joined into one paragraph: one run every line.
    leaders = len(_LEADERS.findall(text)) if _may_have_leaders(text) else 0
    if named:
        entries = sum(1 for line in body if _LIST_ITEM.match(line) or _PAGE_ENTRY.match(line))
        return (len(body) >= 2 and entries >= _LIST_SHARE * len(body)) or leaders >= 3
    if leaders >= _MIN_ENTRIES and leaders * _CHARS_PER_ENTRY >= len(text):
        return True
    entries = sum(1 for line in body if _LINK_ITEM.match(line) or _is_page_entry(line))
    return entries >= _MIN_ENTRIES and entries >= _ENTRY_SHARE * len(body)


def _is_contents_title(text: str) -> bool:
    plain = " ".join(_ESCAPE.sub(r"\1", text).replace("*", "").split()).strip(" :.").lower()
    return plain in _CONTENTS_TITLES


def _may_have_leaders(text: str) -> bool:
    """False when _LEADERS cannot find a thing in `text` (checked more cheaply)."""
    return (
        "\u2026\u2026" in text
        or "____" in text
        or "\u00b7" in text
        or _TWO_DOTS.search(text) is not None
    )


def _is_page_entry(line: str) -> bool:
    """A line of a printed table of contents: short, with leaders, ending in a page number."""
    return len(line) <= 160 and bool(_LEADERS.search(line)) and bool(_PAGE_ENTRY.match(line))


def to_listen(
    pages: Iterable[P], *, is_contents: Callable[[P], Any] = attrgetter("is_contents")
) -> list[P]:
    """Of a document's pages in order, those that listening to the whole of it goes through
    (every page's audio, an audiobook): all but its contents pages, or all of them when it has
    nothing else (a document that is only a list of links is still read to whoever asks)."""
    pages = list(pages)
    kept = [page for page in pages if not is_contents(page)]
    return kept or pages
