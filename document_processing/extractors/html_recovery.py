"""What a reader of a web page reads that the main-content extractor dropped: the article's lead
and its captions.

trafilatura keeps an article's body, and on many pages loses two things next to it that a
reader reads: the lead (standfirst), a paragraph under the headline or in the article's
<header>, which its precision mode drops with every <header> and which often lies outside the
element it takes for the body (`itemprop="articleBody"`); and captions (<figcaption>, or a block
classed "caption"), which it drops with the images. `recover_dropped` finds them in the page
and puts each back before the kept block that follows it in the page.

Only the main content is searched: the element that holds most of the kept text, widened to the
<article> or <main> around it; and only where a reader meets these blocks: a lead between the
headline and the first kept paragraph, a caption from the headline to the last kept block.
Blocks in navigation, asides, footers and forms, hidden ones, link lists and blocks named
for boilerplate ("related", "share", "byline"…) stay out.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from lxml.html import HtmlElement, tostring

from document_processing.extractors.splitting import parse_blocks
from document_processing.markdown import markdown_to_text

__all__ = ["recover_dropped"]

# The blocks trafilatura keeps, matched against its output to find what it kept, and where.
_KEPT_TAGS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "pre", "blockquote", "dd", "dt", "td", "th"}
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# A block shorter than this (in characters, without spaces) is not matched: "Home" or "Share"
# would be found inside any text.
_MIN_MATCH = 12
# A lead is a sentence or two, not a date or a kicker ("Politics"); a caption may be short.
_MIN_LEAD = 30
_MIN_CAPTION = 10
# More paragraphs than this between the headline and the body are not a lead: the extractor
# left them out on purpose.
_MAX_LEADS = 3
# Pages with more blocks than this are left as the extractor made them (each block's text is
# read once; a hostile page could nest list items thousands deep).
_MAX_BLOCKS = 20_000
# Most blocks are found in the kept text whole, as one of its paragraphs or lines; the others
# (table cells, part of a line) are searched for in all of it, up to this many characters in
# all, beyond which the page is left as the extractor made it.
_MAX_SEARCHED = 100_000_000
# A kept block is looked for among this many Markdown blocks after the last one placed.
_PLACING_WINDOW = 50
# The main content holds at least this share of the kept text.
_MAIN_SHARE = 0.8
# A block with at least this share of its text in links is a link list ("Related: …").
_LINK_SHARE = 0.5

_ARTICLE_TYPES = re.compile(r"Article|Posting|Report", re.IGNORECASE)
_CAPTION_TAGS = frozenset({"div", "p", "span", "figcaption"})
_OUTSIDE_TAGS = frozenset(
    {
        "nav", "aside", "footer", "form", "menu", "dialog", "button", "select", "noscript",
        "template", "script", "style", "a",
    }
)  # fmt: skip
# Class and id words that name boilerplate: a whole word ("ad", "tags"), or the start of one
# ("related-posts", "share-buttons", "subscribe").
_BOILERPLATE_WORD = re.compile(
    r"(?:^|[^a-z0-9])(?:ad|ads|tags?|meta|byline|author|dateline|timestamp|credits?"
    r"|(?:nav|menu|breadcrumb|share|sharing|social|related|recommend|comment|cookie|consent"
    r"|advert|sponsor|promo|newsletter|subscri|signup|login|sidebar|footer|widget|popup|modal)"
    r"[a-z0-9]*)(?:$|[^a-z0-9])"
)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Kept:
    element: HtmlElement
    key: str


class _TooCostly(Exception):
    """The page is too large to compare with the extractor's output cheaply."""


class _KeptText:
    """What the extractor kept, as keys (see `_key`): each block, and each line of each."""

    def __init__(self, block_keys: Sequence[str], lines: Iterable[str]) -> None:
        self.text = "\n".join(block_keys)
        self._whole = {*block_keys, *lines}
        self._searched = 0

    def __contains__(self, key: str) -> bool:
        if key in self._whole:
            return True
        self._searched += len(self.text)
        if self._searched > _MAX_SEARCHED:
            raise _TooCostly
        return key in self.text


def recover_dropped(tree: HtmlElement, markdown: str, *, to_markdown: Callable[[str], str]) -> str:
    """`markdown` (the extractor's output for the page `tree`) with the lead and captions it
    dropped put back, each converted by `to_markdown` from its HTML; unchanged when it dropped
    none."""
    blocks = [block.text for block in parse_blocks(markdown)]
    texts = [markdown_to_text(block) for block in blocks]
    block_keys = [_key(text) for text in texts]
    kept_text = _KeptText(block_keys, (_key(line) for text in texts for line in text.split("\n")))
    body = tree.find("body") if tree.tag != "body" else tree
    if body is None or not kept_text.text:
        return markdown
    order = {element: index for index, element in enumerate(body.iter())}
    try:
        kept = _kept_blocks(body, kept_text)
        if not kept:
            return markdown
        region = _article_around(_main_content(kept))
        found = _dropped(region, kept, kept_text, order)
    except _TooCostly:
        return markdown
    if not found:
        return markdown
    recovered = [
        (order[element], to_markdown(tostring(element, encoding="unicode", with_tail=False)))
        for element in found
    ]
    return "\n\n".join(_with_recovered(blocks, block_keys, kept, recovered, order))


def _kept_blocks(body: HtmlElement, kept_text: _KeptText) -> list[_Kept]:
    """The page's blocks whose text the extractor kept, in page order."""
    kept: list[_Kept] = []
    for count, element in enumerate(_elements(body, _KEPT_TAGS)):
        if count >= _MAX_BLOCKS:
            return []
        key = _key(element.text_content())
        if len(key) >= _MIN_MATCH and key in kept_text:
            kept.append(_Kept(element, key))
    return kept


def _main_content(kept: Sequence[_Kept]) -> HtmlElement:
    """The innermost element holding most of the kept text (a stray kept line from a sidebar
    does not widen it to the whole page)."""
    weights: dict[HtmlElement, int] = {}
    depths: dict[HtmlElement, int] = {}
    for block in kept:
        for depth, ancestor in enumerate(reversed(list(block.element.iterancestors()))):
            weights[ancestor] = weights.get(ancestor, 0) + len(block.key)
            depths[ancestor] = depth
    total = sum(len(block.key) for block in kept)
    # The elements holding that share are nested in one another (each holds over half).
    holding = [element for element, weight in weights.items() if weight >= total * _MAIN_SHARE]
    return max(holding, key=depths.__getitem__)


def _article_around(element: HtmlElement) -> HtmlElement:
    """The article or main element around `element` (its lead may lie outside the body the
    extractor chose), or `element` itself."""
    for candidate in (element, *element.iterancestors()):
        if candidate.tag in ("body", "html"):
            break
        itemtype = candidate.get("itemtype") or ""
        if (
            candidate.tag in ("article", "main")
            or candidate.get("role") == "main"
            or (candidate.get("itemscope") is not None and _ARTICLE_TYPES.search(itemtype))
        ):
            return candidate
    return element


def _dropped(
    region: HtmlElement,
    kept: Sequence[_Kept],
    kept_text: _KeptText,
    order: dict[HtmlElement, int],
) -> list[HtmlElement]:
    """The lead paragraphs and captions in `region` that the extractor dropped, in page order."""
    inside = [block for block in kept if _within(block.element, region)]
    body = [block for block in inside if block.element.tag not in _HEADINGS]
    if not body:
        return []
    first_body = order[body[0].element]
    last_kept = order[inside[-1].element]
    headline = _headline(region, order, before=first_body)
    start = order[headline] if headline is not None else order[body[0].element]

    leads = [
        element
        for element in _elements(region, frozenset({"p"}))
        if start < order[element] < first_body or _in_header(element, region, first_body, order)
    ]
    leads = [
        element
        for element in leads
        if element.find(".//time") is None and _readable(element, region, kept_text, _MIN_LEAD)
    ]
    if len(leads) > _MAX_LEADS:
        leads = []

    captions = [
        element
        for element in _elements(region, _CAPTION_TAGS)
        if _is_caption(element) and start < order[element] < last_kept
    ]
    # The innermost caption: "wp-caption" wraps the image and its "wp-caption-text".
    listed = set(captions)
    wrappers = {
        ancestor
        for element in captions
        for ancestor in _ancestors_within(element, region)
        if ancestor in listed
    }
    captions = [
        element
        for element in captions
        if element not in wrappers and _readable(element, region, kept_text, _MIN_CAPTION)
    ]
    kept_elements = {block.element for block in kept}
    found = {
        element
        for element in (*leads, *captions)
        if not any(descendant in kept_elements for descendant in element.iterdescendants())
    }
    # A paragraph inside a caption is read with the caption, once.
    return sorted(
        (
            element
            for element in found
            if not any(ancestor in found for ancestor in _ancestors_within(element, region))
        ),
        key=order.__getitem__,
    )


def _headline(
    region: HtmlElement, order: dict[HtmlElement, int], *, before: int
) -> HtmlElement | None:
    """The article's headline: its first <h1> (else <h2>) before the body."""
    for level in ("h1", "h2"):
        for element in _elements(region, frozenset({level})):
            if order[element] < before:
                return element
    return None


def _in_header(
    element: HtmlElement, region: HtmlElement, first_body: int, order: dict[HtmlElement, int]
) -> bool:
    """Whether `element` is in a <header> of the article, before its body."""
    if order[element] >= first_body:
        return False
    return any(ancestor.tag == "header" for ancestor in _ancestors_within(element, region))


def _is_caption(element: HtmlElement) -> bool:
    if element.tag == "figcaption":
        return True
    names = f"{element.get('class') or ''} {element.get('id') or ''}".lower()
    return "caption" in names


def _readable(
    element: HtmlElement, region: HtmlElement, kept_text: _KeptText, min_chars: int
) -> bool:
    """Whether `element` is text a reader reads, which the extractor left out."""
    key = _key(element.text_content())
    if len(key) < min_chars or key in kept_text or key[: _MIN_MATCH * 2] in kept_text:
        return False
    for node in (element, *_ancestors_within(element, region)):
        if node.tag in _OUTSIDE_TAGS or _hidden(node) or _named_boilerplate(node):
            return False
    links = sum(len(_key(link.text_content())) for link in element.iter("a"))
    return links < len(key) * _LINK_SHARE


def _hidden(element: HtmlElement) -> bool:
    return (
        element.get("hidden") is not None
        or (element.get("aria-hidden") or "").strip().lower() == "true"
        or _HIDDEN_STYLE.search(element.get("style") or "") is not None
    )


def _named_boilerplate(element: HtmlElement) -> bool:
    names = f"{element.get('class') or ''} {element.get('id') or ''}".lower()
    return _BOILERPLATE_WORD.search(names) is not None


def _with_recovered(
    blocks: list[str],
    block_keys: list[str],
    kept: Sequence[_Kept],
    recovered: Sequence[tuple[int, str]],
    order: dict[HtmlElement, int],
) -> list[str]:
    """`blocks` with each recovered (page position, Markdown) before the block of the first
    kept element after it in the page (or after the last block)."""
    placed = _placed(block_keys, kept, order)
    positions = [position for position, _ in placed]
    before: dict[int, list[str]] = {}
    for position, markdown in recovered:
        following = bisect.bisect_right(positions, position)
        index = placed[following][1] if following < len(placed) else len(blocks)
        before.setdefault(index, []).append(markdown)
    out: list[str] = []
    for index in range(len(blocks) + 1):
        out.extend(markdown for markdown in before.get(index, []) if markdown)
        if index < len(blocks):
            out.append(blocks[index])
    return out


def _placed(
    block_keys: list[str], kept: Sequence[_Kept], order: dict[HtmlElement, int]
) -> list[tuple[int, int]]:
    """(page position, Markdown block index) of each kept element found in the output, both
    ascending."""
    placed: list[tuple[int, int]] = []
    index = 0
    for block in kept:
        prefix = block.key[: _MIN_MATCH * 4]
        window = range(index, min(index + _PLACING_WINDOW, len(block_keys)))
        found = next((i for i in window if prefix in block_keys[i]), None)
        if found is not None:
            placed.append((order[block.element], found))
            index = found
    return placed


def _elements(root: HtmlElement, tags: frozenset[str]) -> Iterator[HtmlElement]:
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag in tags:
            yield element


def _ancestors_within(element: HtmlElement, root: HtmlElement) -> Iterator[HtmlElement]:
    """The ancestors of `element` below `root`."""
    for ancestor in element.iterancestors():
        if ancestor is root:
            return
        yield ancestor


def _within(element: HtmlElement, root: HtmlElement) -> bool:
    return element is root or any(ancestor is root for ancestor in element.iterancestors())


def _key(text: str) -> str:
    """Text as compared: without whitespace (the extractor re-flows it)."""
    return "".join(text.split())
