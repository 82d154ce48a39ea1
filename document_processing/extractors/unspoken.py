"""What a reader's eye passes over in HTML and a listener must not hear.

Printed-page numbers that books keep inside sentences (EPUB page-break markers, Project
Gutenberg's "[Pg 200]"), the readings that ruby annotation sets above a word, footnote and
citation reference marks ("24", "[1]", "*"), the links back from a note, and Wikipedia's "[edit]"
links. `drop_unspoken` removes them from a parsed document before it becomes Markdown; the notes
themselves stay where the document has them.

A rule removes an element only when both what it is marked as (an EPUB or ARIA type, a class, an
id, a link to a note) and what it says (a number, a mark) agree, so that "E = mc²" keeps its
superscript and a heading called "Page 12" stays.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

__all__ = ["drop_unspoken"]

# Ruby annotation: the base text is read once, its readings (<rt>, <rtc>) and the parentheses
# shown by readers without ruby support (<rp>) are not.
_RUBY_READINGS = "rt, rp, rtc"

_ROMAN = r"(?=[ivxlcdm])m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"
# A printed page number as books write it: "12", "xiv", "[12]", "[Pg 12]", "p. 12", "Seite 12".
_PAGE_NUMBER = re.compile(
    r"\s*[\[({]?\s*(?:(?:p|pp|pg|page|s|seite|str|pag|pág|\u0441|\u0441\u0442\u0440)\.?\s*)?"
    rf"(?:\d{{1,5}}|{_ROMAN})\s*[\])}}]?\s*",
    re.IGNORECASE,
)
_ARABIC_PAGE_NUMBER = re.compile(r"\s*[\[({]?\s*(?:(?:p|pg|page)\.?\s*)?\d{1,5}\s*[\])}]?\s*", re.I)
# Ids and names that mark a page: "page_12", "Page_xiv", "pg12", "pagenum-3"; and "p200", which
# also names paragraphs ("p3"), so it counts only for an arabic number ("I" is a word).
_PAGE_ID = re.compile(
    rf"(?:pg|page|pagenum|pageno|page-?number)[-_.:]?(?:\d{{1,5}}|{_ROMAN})", re.I
)
_SHORT_PAGE_ID = re.compile(r"p[-_.:]?\d{1,5}", re.IGNORECASE)
_PAGE_CLASS = re.compile(r"page|^pg$|^pb$", re.IGNORECASE)
# A note or citation mark: "1", "[12]", "[a]", "*", "†", "[note 3]", "12, 14" and the like.
_NOTE_MARK = re.compile(
    r"\s*[\[(]?\s*(?:(?:note|n|fn)\.?\s*)?"
    r"(?:\d{1,4}[a-z]?|[a-z]{1,2}|[*\u2020\u2021\u00a7\u00b6#]{1,3})"
    r"(?:\s*[,\u2013-]\s*\d{1,4})*\s*[\])]?\s*",
    re.IGNORECASE,
)
_BRACKETED_MARK = re.compile(r"\s*\[[^\[\]]{1,12}\]\s*")
# What links back from a note to where it is cited says.
_BACK_MARK = re.compile(
    r"\s*[\^\u2191\u21a9\u2934\ufe0e\ufe0f]+(?:\s*[a-z]{1,2})*\s*", re.IGNORECASE
)
_NOTE_REF_CLASSES = (
    "noteref", "fnref", "fnanchor", "footnote-ref", "footnote_ref", "footnote-reference"
)  # fmt: skip
_BACKLINK_CLASSES = ("footnote-back", "footnote-backref", "fnback", "mw-cite-backlink")
_EDIT_LINK = re.compile(r"\s*\[?\s*edit(?: source)?\s*\]?\s*", re.IGNORECASE)


def drop_unspoken(tree: LexborHTMLParser) -> None:
    """Remove, in place, every element of `tree` a reader skips (see the module's docstring)."""
    doomed = tree.css(_RUBY_READINGS)
    doomed += tree.css("span.mw-editsection")  # Wikipedia's "[edit]", brackets included
    for node in tree.css("span, a, sup, div, p"):
        target = _unspoken(node)
        if target is not None:
            doomed.append(target)
    # Removing an element frees everything inside it: an element inside another one removed
    # is not touched again.
    ids = {node.mem_id for node in doomed}
    for node in doomed:
        if not _inside(node, ids):
            node.decompose()


def _inside(node: LexborNode, ids: set[int]) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.mem_id in ids:
            return True
        parent = parent.parent
    return False


def _unspoken(node: LexborNode) -> LexborNode | None:
    """The element to remove for `node` (itself or its wrapper), or None to keep it.

    Only an element whose attributes say it may be one has its text looked at: the text of
    every <div> of a deeply nested page would cost time in the square of its size.
    """
    attributes = node.attributes
    kinds = f"{attributes.get('epub:type') or ''} {attributes.get('role') or ''}".lower()
    classes = (attributes.get("class") or "").lower().split()
    tag = node.tag
    page_like = "pagebreak" in kinds or any(_PAGE_CLASS.search(c) for c in classes)
    note_like = "noteref" in kinds or any(c.startswith(_NOTE_REF_CLASSES) for c in classes)
    back_like = "backlink" in kinds or any(c.startswith(_BACKLINK_CLASSES) for c in classes)
    if not (page_like or note_like or back_like):
        if tag in ("div", "p"):
            return None  # only page numbers are ever whole blocks
        if tag == "span" and not _page_ids(node):
            return None
        href = attributes.get("href") or ""
        if tag == "a" and "#" not in href and "action=edit" not in href and not _page_ids(node):
            return None
    text = node.text(deep=True)
    if "pagebreak" in kinds:
        return node if len(text.strip()) <= 16 else None
    if _is_page_number(node, classes, text):
        return node
    if tag in ("div", "p"):
        return None
    if note_like:
        return _with_wrapper(node, text) if len(text.strip()) <= 16 else None
    if back_like:
        # "↩", "^", or Wikipedia's "^ Jump up to: a b c" before a reference.
        return node if len(text.strip()) <= 40 else None
    if tag == "sup":
        return _note_sup(node, classes, text)
    if tag == "a":
        return _note_link(node, text)
    return None


def _page_ids(node: LexborNode) -> list[str]:
    """The element's id and name when either could name a page ("page_12", "p200")."""
    ids = [(node.attributes.get(name) or "").strip() for name in ("id", "name")]
    return [value for value in ids if _PAGE_ID.fullmatch(value) or _SHORT_PAGE_ID.fullmatch(value)]


def _is_page_number(node: LexborNode, classes: list[str], text: str) -> bool:
    if not text.strip() or not _PAGE_NUMBER.fullmatch(text):
        return False
    if any(_PAGE_CLASS.search(c) for c in classes):
        return True
    if node.tag not in ("span", "a"):
        return False  # a paragraph's id says nothing about its text
    ids = _page_ids(node)
    if any(_PAGE_ID.fullmatch(value) for value in ids):
        return True
    # "p3" also names paragraphs: it counts only for an arabic number ("I" is a word).
    return bool(ids) and bool(_ARABIC_PAGE_NUMBER.fullmatch(text))


def _note_sup(node: LexborNode, classes: list[str], text: str) -> LexborNode | None:
    """A superscript that is a note or citation mark: it links to a note, or says it is one."""
    if "reference" in classes and _BRACKETED_MARK.fullmatch(text):
        return node  # Wikipedia's <sup class="reference">[1]</sup>
    if not _NOTE_MARK.fullmatch(text):
        return None
    inner_link = any(_links_within(link) for link in node.css("a"))
    parent = node.parent
    if parent is not None and parent.tag == "a" and _links_within(parent):
        # A link that is only the mark ("<a href='#n1'><sup>1</sup></a>") goes with it; in a
        # longer link ("the <a>21<sup>st</sup> century</a>") the superscript is text.
        return parent if parent.text(deep=True).strip() == text.strip() else None
    return node if inner_link else None


def _note_link(node: LexborNode, text: str) -> LexborNode | None:
    """A link within the document whose text is a bracketed mark ("[1]", "[a]") or "edit"."""
    href = (node.attributes.get("href") or "").strip()
    if "action=edit" in href and _EDIT_LINK.fullmatch(text):
        return node
    if not _links_within(node):
        return None
    if _BRACKETED_MARK.fullmatch(text) and _NOTE_MARK.fullmatch(text):
        return _with_wrapper(node, text)
    if _BACK_MARK.fullmatch(text):
        return node  # "^" or "↩" back to where a note is cited
    return None


def _links_within(link: LexborNode) -> bool:
    """Whether `link` points into the same document or book (a note is always there)."""
    href = (link.attributes.get("href") or "").strip()
    if href.startswith("#"):
        return True
    # EPUB notes often live in a notes file: "notes.xhtml#n12".
    path, _, fragment = href.partition("#")
    return bool(fragment) and "://" not in path and not path.startswith(("mailto:", "//"))


def _with_wrapper(node: LexborNode, text: str) -> LexborNode:
    """`node`, or the superscript around it when that holds nothing else."""
    parent = node.parent
    if (
        parent is not None
        and parent.tag == "sup"
        and parent.text(deep=True).strip() == text.strip()
    ):
        return parent
    return node
