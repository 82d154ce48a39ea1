"""Text preparation for speech: normalisation, sentence splitting and chunk packing.

Every engine receives plain text (Polly with ``TextType="text"``, espeak-ng without ``-m``), so
nothing here is a security boundary against markup injection; the clean-up exists so that
angle-bracket junk, URLs, hashes and emoji are not read aloud and so that offsets are stable.

Offsets in ``Sentence`` and ``Chunk`` index into the *normalised* text, which is what the engine
reads. ``normalize_for_speech_with_sources`` also says where each normalised character came from
in the original text, so a player can highlight the sentence being spoken in the page itself.
"""

from __future__ import annotations

import html
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TypeAlias, TypeVar

import sentencex

LONG_WORD_CHARS = 40  # longer "words" are hashes, base64, paths or keyboard mashing
_LONG_ALPHA_WORD_CHARS = 64  # ... unless alphabetic: German compounds reach 60+ letters


@dataclass(frozen=True)
class Sentence:
    text: str
    char_start: int
    char_end: int
    ends_paragraph: bool = False


@dataclass(frozen=True)
class Chunk:
    """Text for one engine call and the sentences (or the part of one sentence) it covers."""

    text: str
    sentence_indices: tuple[int, ...]
    char_start: int
    char_end: int


# --------------------------------------------------------------------------- normalisation

_TRADEMARKS = re.compile("[\u2122\u2120\u00ae]")  # ™ ℠ ®: NFKC would turn ™ into "TM"
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_ENTITY = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")
_LINE_BREAKS = re.compile("\r\n?|[\u2029\x0c\u2028\x0b\x85]")
_LINE_BREAK_WORDS = {"\u2029": "\n\n", "\x0c": "\n\n"}  # paragraph separator, form feed
_ZERO_WIDTH_JOINERS = "\u200c\u200d"
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_NOT_PRINTABLE_ASCII = re.compile(r"[^ -~\n]+")
_NOT_ASCII = re.compile(r"[\x00-\x7f]?[^\x00-\x7f]+")  # with the starter before, for NFKC
_MARKUP = re.compile(
    r"<!--.*?(?:-->|$)"  # comments, also unterminated ones
    r"|<!\[CDATA\[|\]\]>"  # CDATA wrappers (their content is kept)
    r"|<[!?][^<>]*>"  # doctype, processing instructions
    r"|</?[A-Za-z][\w:.\-]*(?:\s[^<>]*)?/?>",  # tags: <speak>, <break time='1s'/>, </p>
    re.DOTALL,
)
_MD_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\s]*(?:\s+\"[^\"\n]*\")?\)")
_CITATION = re.compile(r"\[\d+(?:\s*[,\u2013-]\s*\d+)*\]")  # Wikipedia-style "[12]"
_URL = re.compile(r"\b(?:(?:https?|ftp)://|www\.)[^\s<>\"'`]+", re.IGNORECASE)
_URL_TRAILING_PUNCT = ".,;:!?)]}'\""
_ARROW = "[\u2192\u21d2\u27f6\u27f9\u2794\u279c]"
_ARROWS_TO = re.compile(f"\\s*{_ARROW}\\s*")
# List bullets and Markdown heading marks at the start of a line.
_LIST_MARKER = re.compile(
    "^[ \t]*(?:[-*+\u2022\u25e6\u25aa\u2023\u25cf\u25a0\u27a2\u27a4\u25ba\u25b6]|#{1,6})[ \t]+",
    re.MULTILINE,
)
_BULLET = "[\u2022\u25e6\u25aa\u2023\u25cf\u2219]"
_INLINE_BULLET = re.compile(f"\\s*{_BULLET}\\s*")
# A bare character class is found much faster than "\s*[...]", so it decides whether the
# rules above run at all.
_ARROW_OR_BULLET = re.compile(f"{_ARROW}|{_BULLET}")
# Pictographs, emoji and their modifiers. Python has no Extended_Pictographic property, so we
# name the blocks: misc technical/symbols, dingbats, arrows, shapes, supplementary pictographs,
# regional indicators, skin tones (inside 1F000-1FAFF), variation selectors, keycaps, tag chars.
_PICTOGRAPHS = re.compile(
    "[\u2190-\u21ff\u2300-\u23ff\u2460-\u24ff\u25a0-\u27bf\u2900-\u297f\u2b00-\u2bff"
    "\u3030\u303d\u3297\u3299\ufe00-\ufe0f\u20e3"
    "\U0001f000-\U0001faff\U000e0000-\U000e007f]"
)
_STRAY_JOINER = re.compile(f"(?<!\\w)[{_ZERO_WIDTH_JOINERS}]|[{_ZERO_WIDTH_JOINERS}](?!\\w)")
# A comparison has an operand on both sides: "x < 5", "a>b". "< >" left by a stripped tag has not.
_COMPARE_LT = re.compile(r"(?<=[\w)])[^\S\n]*<[^\S\n]*(?=[\w(\-])")
_COMPARE_GT = re.compile(r"(?<=[\w)])[^\S\n]*>[^\S\n]*(?=[\w(\-])")
_ANGLE_BRACKET = re.compile("[<>]")
_DEGREES = re.compile(r"\s*\u00b0\s*([CF])\b|\s*\u00b0")
_PERCENT = re.compile(r"\s*%")
_SYMBOL_WORDS_EN = {
    "&": " and ",
    "@": " at ",
    "\u00d7": " times ",  # multiplication sign
    "\u00b1": " plus or minus ",  # ±
    "\u2248": " approximately ",  # ≈
    "\u2260": " is not equal to ",  # ≠
    "\u2264": " is less than or equal to ",  # ≤
    "\u2265": " is greater than or equal to ",  # ≥
    "\u00f7": " divided by ",  # ÷
    "\u00a7": " section ",  # §
    "\u00a9": " copyright ",  # ©
}
_SYMBOL_WORDS_RE = re.compile("|".join(re.escape(symbol) for symbol in _SYMBOL_WORDS_EN))
_DECORATION = re.compile(r"([=_*~#.\-])\1{3,}")  # "=====", "-----", "*****", "....."
_DASHES = re.compile(r"\s*-{2,3}\s*")
_EMPHASIS = re.compile(r"[*`^\\]+|~~")
_UNDERSCORES = re.compile(r"_{2,}")
_PIPE = re.compile(r"\|")
_OPENING_BRACKET = re.compile(r"[\[{]")
_CLOSING_BRACKET = re.compile(r"[\]}]")
_REPEATED_MARKS = re.compile(r"([!?])\1+")
# Scripts written without spaces: a long run of them is a sentence, not junk.
_UNSPACED_SCRIPT = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\U00020000-\U0002ffff]"
)
# Starting only at a word's start finds the same tokens as "\S{41,}" in linear time.
_LONG_TOKEN = re.compile(rf"(?<!\S)\S{{{LONG_WORD_CHARS + 1},}}")
_WORD_SEPARATORS = re.compile(r"[/\\_\-.,:;=+|~#&?!()\[\]{}'\"]+")
# _tidy's rules. The two whitespace rules match only where they change something (a single
# space or a bare newline is left alone), which keeps the mapped rewrite from visiting every
# word boundary; the result is the same as "[^\S\n]+" -> " " and " ?\n ?" -> "\n".
_SPACE_RUN = re.compile(r"[^\S\n]{2,}|[^\S\n ]")
_SPACE_AROUND_NEWLINE = re.compile(r" \n ?|\n ")
_NEWLINES = re.compile(r"\n{3,}")
_EMPTY_PARENTHESES = re.compile(r"\(\s*\)")  # parentheses emptied by earlier steps
_SPACE_BEFORE_MARK = re.compile(r" +([,;:.!?)])")
_SPACE_AFTER_PARENTHESIS = re.compile(r"\( +")
_REPEATED_SEPARATORS = re.compile(r"([,;:])(?:\s*[,;:])+")
_LINE_START_SEPARATORS = re.compile(r"(^|\n)[,;:]+ ?")  # a line does not start with a comma
_LONG_ELLIPSIS = re.compile(r"\.{4,}")

_Replacement: TypeAlias = str | Callable[[re.Match[str]], str]
_R = TypeVar("_R", bound="_Rewriter")


@dataclass(frozen=True, eq=False)
class MappedText:
    """Normalised text and where each of its characters came from in the original.

    Character ``i`` of ``text`` stands for ``original[starts[i]:ends[i]]``: a kept character
    for itself, an inserted one ("a link to example.com" for a URL, " and " for "&") for the
    whole span it replaced, so ``starts`` holds the start of that span. Both lists are
    non-decreasing and have one extra entry, ``len(original)``, for the end.
    """

    original: str
    text: str
    starts: list[int]
    ends: list[int]

    def source_spans(self, spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
        """Map ordered, non-overlapping ``[start, end)`` ranges of ``text`` to ``original``.

        Each range covers everything its characters came from and is trimmed of surrounding
        whitespace; the results stay in order and never overlap, even when two ranges share
        one replaced span.
        """
        mapped: list[tuple[int, int]] = []
        floor = 0
        for start, end in spans:
            source_start = max(self.starts[start], floor)
            source_end = max(self.ends[end - 1] if end > start else source_start, source_start)
            source_start, source_end = _strip_span(self.original, source_start, source_end)
            mapped.append((source_start, source_end))
            floor = source_end
        return mapped


def normalize_for_speech(text: str, *, language: str = "en") -> str:
    """Return ``text`` cleaned for reading aloud; "" when nothing speakable is left.

    Paragraph breaks survive as "\\n\\n" (they always end a sentence) and line breaks as "\\n"
    (left to the sentence splitter and the engine); other whitespace becomes single spaces.
    Symbol words are English only: other languages leave "&", "%" and friends to the engine,
    which reads them in the voice's language.
    """
    return _normalise(_Rewriter(text), language=language).text


def normalize_for_speech_mapped(text: str, *, language: str = "en") -> tuple[str, list[int]]:
    """``normalize_for_speech(text)`` and, per character of it, its index in ``text``.

    The list has one more entry than the normalised text; the last is ``len(text)``. Inserted
    characters map to the start of the span they replaced. To map a range back, including
    the end of replaced spans, use ``normalize_for_speech_with_sources``.
    """
    mapped = normalize_for_speech_with_sources(text, language=language)
    return mapped.text, mapped.starts


def normalize_for_speech_with_sources(text: str, *, language: str = "en") -> MappedText:
    """``normalize_for_speech(text)`` with the original span of every character."""
    rewriter = _normalise(_MappedRewriter(text), language=language)
    return MappedText(original=text, text=rewriter.text, starts=rewriter.starts, ends=rewriter.ends)


def _normalise(rewriter: _R, *, language: str) -> _R:
    english = _primary_language(language) == "en"
    steps: list[Callable[[_Rewriter], None]] = [
        _drop_surrogates,
        _drop_trademarks,
        _nfkc,
        _unescape_entities,
        _normalise_line_breaks,
        _drop_invisible,
        _strip_markup,
        lambda r: _replace_urls(r, english=english),
        lambda r: _angle_brackets(r, english=english),
        lambda r: _expand_symbols(r, english=english),
        _drop_pictographs,
        _strip_decoration,
        # After the steps above, which can leave "- " or "# " at the start of a line ("-°").
        _lists_and_bullets,
        _break_long_words,
        _tidy,
    ]
    # Normalising normalised text must change nothing (a stable, idempotent clean-up). A step
    # can expose work for an earlier one ("#--0" → "# — 0"), so run to a fixed point; the
    # second pass is nearly always the last and costs a few milliseconds per page.
    for _ in range(3):
        previous = rewriter.text
        for step in steps:
            step(rewriter)
        if rewriter.text == previous:
            break
    if not has_speakable_text(rewriter.text):
        rewriter.clear()
    return rewriter


def has_speakable_text(text: str) -> bool:
    """True when ``text`` holds at least one letter or digit in any script."""
    return any(char.isalnum() for char in text)


def _primary_language(language: str) -> str:
    return re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]


class _Rewriter:
    """Text being normalised: every step rewrites it through these few operations."""

    def __init__(self, text: str) -> None:
        self.text = text

    def sub(self, pattern: re.Pattern[str], replacement: _Replacement) -> None:
        self.text = pattern.sub(replacement, self.text)

    def nfkc(self) -> None:
        self.text = unicodedata.normalize("NFKC", self.text)

    def strip(self) -> None:
        self.text = self.text.strip()

    def clear(self) -> None:
        self.text = ""


class _MappedRewriter(_Rewriter):
    """A rewriter that also keeps, per character, the span of the original it stands for.

    ``starts``/``ends`` are as in ``MappedText``. Each edit is composed into them directly,
    from slices of the current lists, so an edit costs one pass in C over the text and Python
    work per replacement only.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.starts = list(range(len(text) + 1))
        self.ends = list(range(1, len(text) + 2))
        self.ends[-1] = len(text)

    def sub(self, pattern: re.Pattern[str], replacement: _Replacement) -> None:
        if callable(replacement):
            edits = ((m.start(), m.end(), replacement(m)) for m in pattern.finditer(self.text))
        elif "\\" in replacement:  # a template: "\1"
            edits = (
                (m.start(), m.end(), m.expand(replacement)) for m in pattern.finditer(self.text)
            )
        else:
            edits = ((m.start(), m.end(), replacement) for m in pattern.finditer(self.text))
        self.edit(edits)

    def nfkc(self) -> None:
        text = self.text
        if text.isascii() or unicodedata.is_normalized("NFKC", text):
            return
        expected = unicodedata.normalize("NFKC", text)
        self.edit(_nfkc_edits(text))
        if self.text != expected:  # cannot happen (see _nfkc_edits); never risk the text
            self.edit([(0, len(self.text), expected)])

    def strip(self) -> None:
        text = self.text
        end = len(text.rstrip())
        start = end - len(text[:end].lstrip())
        if start == 0 and end == len(text):
            return
        self.text = text[start:end]
        self.starts = self.starts[start:end] + self.starts[-1:]
        self.ends = self.ends[start:end] + self.ends[-1:]

    def clear(self) -> None:
        self.text = ""
        self.starts = self.starts[-1:]
        self.ends = self.ends[-1:]

    def edit(self, edits: Iterable[tuple[int, int, str]]) -> None:
        """Replace ``text[start:end]`` by each replacement (ordered, non-overlapping spans).

        Unchanged characters keep their sources. Of a replacement, a part that copies the
        replaced text (a common prefix or suffix, or the replacement found inside it, as in
        "[link](url)" → "link") keeps those characters' sources; the rest stands for the whole
        replaced span in between.
        """
        text, starts, ends = self.text, self.starts, self.ends
        pieces: list[str] = []
        new_starts: list[int] = []
        new_ends: list[int] = []
        last = 0
        for start, end, replacement in edits:
            replaced = text[start:end]
            if replacement == replaced:
                continue
            pieces.append(text[last:start])
            pieces.append(replacement)
            new_starts += starts[last:start]
            new_ends += ends[last:start]
            last = end
            if not replacement:
                continue
            found = replaced.find(replacement)
            if found >= 0:
                new_starts += starts[start + found : start + found + len(replacement)]
                new_ends += ends[start + found : start + found + len(replacement)]
                continue
            prefix, suffix = _common_ends(replaced, replacement)
            inserted = len(replacement) - prefix - suffix
            new_starts += starts[start : start + prefix]
            new_ends += ends[start : start + prefix]
            if inserted:
                span_start = starts[start + prefix]
                span_end = ends[end - suffix - 1] if end - suffix > start + prefix else span_start
                new_starts += [span_start] * inserted
                new_ends += [span_end] * inserted
            new_starts += starts[end - suffix : end]
            new_ends += ends[end - suffix : end]
        if not pieces:
            return
        pieces.append(text[last:])
        new_starts += starts[last:]
        new_ends += ends[last:]
        self.text = "".join(pieces)
        self.starts = new_starts
        self.ends = new_ends


def _common_ends(old: str, new: str) -> tuple[int, int]:
    """Lengths of the common prefix and, in what remains of both, the common suffix."""
    limit = min(len(old), len(new))
    prefix = 0
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    limit -= prefix
    suffix = 0
    while suffix < limit and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    return prefix, suffix


def _nfkc_edits(text: str) -> Iterator[tuple[int, int, str]]:
    """NFKC as edits that are as small as possible, for a precise map.

    NFKC only changes non-ASCII characters and never joins an ASCII character to the one
    before it, so it works on each non-ASCII run together with the starter just before it (a
    combining accent may follow an ASCII letter). Within a run each starter and the
    combining marks after it are normalised alone, when that gives the same result as the
    whole run (it does not for conjoining Hangul jamo, which compose across starters).
    """
    for match in _NOT_ASCII.finditer(text):
        run = match.group()
        if unicodedata.is_normalized("NFKC", run):
            continue
        start = match.start()
        normalised = unicodedata.normalize("NFKC", run)
        clusters = _clusters(run)
        pieces = [unicodedata.normalize("NFKC", run[s:e]) for s, e in clusters]
        if "".join(pieces) != normalised:
            yield start, match.end(), normalised
            continue
        for (s, e), piece in zip(clusters, pieces, strict=True):
            yield start + s, start + e, piece


def _clusters(text: str) -> list[tuple[int, int]]:
    bounds = [i for i, char in enumerate(text) if i == 0 or not unicodedata.combining(char)]
    return list(itertools.pairwise([*bounds, len(text)]))


def _drop_surrogates(r: _Rewriter) -> None:
    # Lone surrogates cannot be encoded to UTF-8 and would crash every engine. Halves of a valid
    # pair that arrived as two code points (e.g. from JSON) are joined first, so "\ud83d\ude00"
    # becomes one emoji (dropped later) rather than two deletions.
    if not _SURROGATE.search(r.text):
        return
    r.sub(_SURROGATE_PAIR, _join_surrogates)
    r.sub(_SURROGATE, "")


def _join_surrogates(match: re.Match[str]) -> str:
    return match.group().encode("utf-16-le", "surrogatepass").decode("utf-16-le")


def _drop_trademarks(r: _Rewriter) -> None:
    if not r.text.isascii():
        r.sub(_TRADEMARKS, "")


def _nfkc(r: _Rewriter) -> None:
    # Fullwidth letters, ligatures ("ﬁ"), "…" → "...", superscripts → digits.
    r.nfkc()


def _unescape_entities(r: _Rewriter) -> None:
    # Only well-formed entities, and a few rounds so "&amp;lt;speak&amp;gt;" cannot smuggle a
    # tag past the markup step that follows.
    for _ in range(3):
        before = r.text
        if "&" not in before:
            break
        r.sub(_ENTITY, _unescape_entity)
        if r.text == before:
            break
    # An entity may name a fullwidth less-than sign; NFKC again so the markup step sees "<".
    r.nfkc()


def _unescape_entity(match: re.Match[str]) -> str:
    return html.unescape(match.group())


def _normalise_line_breaks(r: _Rewriter) -> None:
    # CRLF and CR, paragraph separator and form feed ("\n\n"), line separator, VT and NEL.
    text = r.text
    if "\r" in text or "\x0b" in text or "\x0c" in text or not text.isascii():
        r.sub(_LINE_BREAKS, _line_break)


def _line_break(match: re.Match[str]) -> str:
    return _LINE_BREAK_WORDS.get(match.group(), "\n")


def _drop_invisible(r: _Rewriter) -> None:
    # Control, format, private-use and unassigned characters are never spoken. Tabs become
    # spaces; the zero-width (non-)joiners matter inside Indic and Persian words. Terminal
    # colour codes (pasted logs) go whole, or "[31m" would be read out.
    if "\x1b" in r.text:
        r.sub(_ANSI_ESCAPE, "")
    # Printable ASCII is always visible; only the rest needs a Unicode category lookup.
    r.sub(_NOT_PRINTABLE_ASCII, _visible_chars)


def _visible_chars(match: re.Match[str]) -> str:
    run = match.group()
    if len(run) == 1:
        return _visible_char(run)
    return "".join([_visible_char(char) for char in run])


def _visible_char(char: str) -> str:
    if char == "\n" or char in _ZERO_WIDTH_JOINERS:
        return char
    category = unicodedata.category(char)
    if category == "Cc":
        return " " if char == "\t" else ""
    if category in ("Cf", "Co", "Cn", "Cs"):
        return ""
    return char


def _strip_markup(r: _Rewriter) -> None:
    if "](" in r.text:
        r.sub(_MD_LINK, r"\1")
    if "[" in r.text:
        r.sub(_CITATION, "")
    # A tag may hide another once removed ("<<b>speak>"), so repeat until nothing changes.
    while True:
        before = r.text
        if "<" not in before and "]]>" not in before:
            return
        r.sub(_MARKUP, _tag_replacement)
        if r.text == before:
            return


def _tag_replacement(match: re.Match[str]) -> str:
    # A space only where the tag separated two words ("one<br>two"); elsewhere nothing, so
    # the halves of a nested tag close up and are caught by the next round.
    text, start, end = match.string, match.start(), match.end()
    between_words = start > 0 and end < len(text) and text[start - 1].isalnum()
    return " " if between_words and text[end].isalnum() else ""


def _replace_urls(r: _Rewriter, *, english: bool) -> None:
    def replace_url(match: re.Match[str]) -> str:
        url = match.group()
        trailing = ""
        while url and url[-1] in _URL_TRAILING_PUNCT:
            trailing = url[-1] + trailing
            url = url[:-1]
        domain = _url_domain(url)
        if not domain:
            return " " + trailing
        spoken = f"a link to {domain}" if english else domain
        return f" {spoken}{trailing}"

    if "://" in r.text or "www." in r.text.lower():  # what _URL needs, cheaply
        r.sub(_URL, replace_url)


def _url_domain(url: str) -> str:
    rest = re.sub(r"^[a-z]+://", "", url, flags=re.IGNORECASE)
    host = re.split(r"[/?#]", rest, maxsplit=1)[0]
    host = host.rpartition("@")[2]  # never read out user:password@
    host = re.sub(r":\d*$", "", host)
    # Lower case, as host names are: "x.org.Next" read as it is written ends a sentence inside
    # the link, for the sentence splitter, and the voice would pause in the middle of it.
    host = re.sub(r"^www\.", "", host, flags=re.IGNORECASE).strip(".").lower()
    return host if re.fullmatch(r"[\w.\-]{1,100}", host) and has_speakable_text(host) else ""


def _angle_brackets(r: _Rewriter, *, english: bool) -> None:
    # What survives _strip_markup is not a tag. Comparisons ("x < 5") are read; any other
    # angle bracket is junk and becomes a space, so none reaches an engine.
    if english and "<" in r.text:
        r.sub(_COMPARE_LT, " less than ")
    if english and ">" in r.text:
        r.sub(_COMPARE_GT, " greater than ")
    if "<" in r.text or ">" in r.text:
        r.sub(_ANGLE_BRACKET, " ")


def _lists_and_bullets(r: _Rewriter) -> None:
    r.sub(_LIST_MARKER, "")
    if not r.text.isascii() and _ARROW_OR_BULLET.search(r.text):
        r.sub(_INLINE_BULLET, ", ")


def _expand_symbols(r: _Rewriter, *, english: bool) -> None:
    # The rules below need a non-ASCII character or the one they replace, so most are skipped
    # on plain English text without running their (slow, "\s*"-led) patterns.
    if not r.text.isascii() and _ARROW_OR_BULLET.search(r.text):
        r.sub(_ARROWS_TO, " to " if english else " ")
    if not english:
        return
    if "\u00b0" in r.text:
        r.sub(_DEGREES, _degrees_words)
    if "%" in r.text:
        r.sub(_PERCENT, " percent ")
    if not r.text.isascii() or "&" in r.text or "@" in r.text:
        r.sub(_SYMBOL_WORDS_RE, _symbol_words)


def _degrees_words(match: re.Match[str]) -> str:
    scale = {"C": " Celsius", "F": " Fahrenheit"}.get(match.group(1) or "", "")
    return f" degrees{scale}"


def _symbol_words(match: re.Match[str]) -> str:
    return _SYMBOL_WORDS_EN[match.group()]


def _drop_pictographs(r: _Rewriter) -> None:
    if r.text.isascii():
        return
    r.sub(_PICTOGRAPHS, "")
    # Joiners that held emoji sequences together are now orphans.
    if "\u200c" in r.text or "\u200d" in r.text:
        r.sub(_STRAY_JOINER, "")


def _strip_decoration(r: _Rewriter) -> None:
    r.sub(_EMPHASIS, "")
    r.sub(_DECORATION, _decoration_replacement)
    if "--" in r.text:
        r.sub(_DASHES, " \u2014 ")  # ASCII "--" is an em dash: a pause, not "minus"
    r.sub(_UNDERSCORES, " ")
    r.sub(_PIPE, ", ")
    r.sub(_OPENING_BRACKET, "(")
    r.sub(_CLOSING_BRACKET, ")")
    r.sub(_REPEATED_MARKS, r"\1")


def _decoration_replacement(match: re.Match[str]) -> str:
    return "..." if match.group(1) == "." else " "


def _break_long_words(r: _Rewriter) -> None:
    r.sub(_LONG_TOKEN, _break_long_word)


def _break_long_word(match: re.Match[str]) -> str:
    word = match.group()
    if _UNSPACED_SCRIPT.search(word):
        return word  # Chinese, Japanese, Thai ... write whole sentences without spaces
    parts = (part for part in _WORD_SEPARATORS.split(word) if part)
    return " ".join(part for part in parts if _readable_part(part))


def _readable_part(part: str) -> bool:
    if part.isalpha():
        return len(part) <= _LONG_ALPHA_WORD_CHARS
    if len(part) > LONG_WORD_CHARS:
        return False
    # Long mixes of letters and digits are hashes, ids and base64, not words.
    mixed = any(char.isdigit() for char in part) and any(char.isalpha() for char in part)
    return not (mixed and len(part) > 16)


def _tidy(r: _Rewriter) -> None:
    # Each rule can expose work for another ("0! !" → "0!!" → "0!"), so repeat until stable;
    # that also makes normalising twice give the same text as normalising once.
    for _ in range(5):
        before = r.text
        _tidy_once(r)
        if r.text == before:
            break


def _tidy_once(r: _Rewriter) -> None:
    r.sub(_SPACE_RUN, " ")  # every space-like run, except newlines
    r.sub(_SPACE_AROUND_NEWLINE, "\n")
    r.sub(_NEWLINES, "\n\n")
    r.sub(_EMPTY_PARENTHESES, "")
    r.sub(_SPACE_BEFORE_MARK, r"\1")
    r.sub(_SPACE_AFTER_PARENTHESIS, "(")
    r.sub(_REPEATED_SEPARATORS, r"\1")
    text = r.text
    if text[:1] in ",;:" or "\n," in text or "\n;" in text or "\n:" in text:
        r.sub(_LINE_START_SEPARATORS, r"\1")
    r.sub(_REPEATED_MARKS, r"\1")
    r.sub(_LONG_ELLIPSIS, "...")
    r.strip()


# --------------------------------------------------------------------------- sentences

_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
_FALLBACK_SENTENCE_END = re.compile(r"(?<=[.!?\u3002\uff01\uff1f])\s+")


def split_sentences(text: str, *, language: str = "en") -> list[Sentence]:
    """Split normalised ``text`` into sentences with offsets into ``text``.

    Paragraph breaks always end a sentence; inside a paragraph sentencex decides (it handles
    "Dr.", "e.g.", "3.14", ellipses and quotes). Sentences with nothing speakable ("...") are
    dropped, so an empty list means "no speakable text".
    """
    sentences: list[Sentence] = []
    language = _primary_language(language) or "en"
    for para_start, para_end in _paragraph_spans(text):
        in_paragraph = [
            Sentence(text=text[start:end], char_start=start, char_end=end)
            for start, end in _sentence_spans(text, para_start, para_end, language)
            if has_speakable_text(text[start:end])
        ]
        if in_paragraph:
            in_paragraph[-1] = replace(in_paragraph[-1], ends_paragraph=True)
            sentences.extend(in_paragraph)
    return sentences


def _paragraph_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    start = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    return spans


def _sentence_spans(text: str, start: int, end: int, language: str) -> list[tuple[int, int]]:
    paragraph = text[start:end]
    if not paragraph.strip():
        return []
    relative = _segment(paragraph, language)
    spans = (_strip_span(paragraph, s, e) for s, e in relative)
    return [(start + s, start + e) for s, e in spans if e > s]


def _segment(paragraph: str, language: str) -> list[tuple[int, int]]:
    try:
        boundaries = sentencex.get_sentence_boundaries(language, paragraph)
        spans = [(int(b["start_index"]), int(b["end_index"])) for b in boundaries]
    except Exception:  # a segmenter bug must not lose the page: fall back to punctuation
        return _fallback_segment(paragraph)
    if _spans_tile(spans, len(paragraph)):
        return spans
    return _fallback_segment(paragraph)


def _spans_tile(spans: Sequence[tuple[int, int]], length: int) -> bool:
    # We trust sentencex's offsets only if they tile the paragraph exactly.
    position = 0
    for start, end in spans:
        if start != position or end < start:
            return False
        position = end
    return position == length


def _fallback_segment(paragraph: str) -> list[tuple[int, int]]:
    spans = []
    start = 0
    for match in _FALLBACK_SENTENCE_END.finditer(paragraph):
        spans.append((start, match.start()))
        start = match.start()
    spans.append((start, len(paragraph)))
    return spans


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# --------------------------------------------------------------------------- chunks

# Where a long sentence may be cut: after clause punctuation followed by a space, or after
# CJK punctuation, which is followed by none.
_CLAUSE_END = re.compile(
    r"[,;:\u2014\u2013)\u2026.!?](?=\s|$)|[\u3001\u3002\uff0c\uff1b\uff1a\uff01\uff1f]"
)


def pack_chunks(
    sentences: Sequence[Sentence],
    *,
    max_chars: int,
    first_chunk_max_chars: int | None = None,
    one_sentence_per_chunk: bool = False,
    break_at_paragraphs: bool = True,
) -> list[Chunk]:
    """Pack sentences, in order, into chunks of at most ``max_chars`` characters.

    A sentence longer than ``max_chars`` is split at clause punctuation, then at spaces, then
    cut hard; each piece is its own chunk. ``first_chunk_max_chars`` keeps the first chunk
    short so audio can start quickly. Chunks end at paragraph breaks by default, which keeps
    paragraph pauses and timings exact.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    packer = _Packer(max_chars=max_chars, first_limit=first_chunk_max_chars or max_chars)
    for index, sentence in enumerate(sentences):
        if len(sentence.text) > max_chars:
            packer.flush()
            packer.add_pieces(index, sentence)
            continue
        packer.add_sentence(index, sentence)
        if one_sentence_per_chunk or (break_at_paragraphs and sentence.ends_paragraph):
            packer.flush()
    packer.flush()
    return packer.chunks


class _Packer:
    def __init__(self, *, max_chars: int, first_limit: int) -> None:
        self.max_chars = max_chars
        self.first_limit = min(first_limit, max_chars)
        self.chunks: list[Chunk] = []
        self._pending: list[tuple[int, Sentence]] = []
        self._length = 0

    def _limit(self) -> int:
        return self.first_limit if not self.chunks else self.max_chars

    def add_sentence(self, index: int, sentence: Sentence) -> None:
        needed = len(sentence.text) + (1 if self._pending else 0)  # one joining space
        if self._pending and self._length + needed > self._limit():
            self.flush()
            needed = len(sentence.text)
        self._pending.append((index, sentence))
        self._length += needed

    def flush(self) -> None:
        if not self._pending:
            return
        indices = tuple(index for index, _ in self._pending)
        self.chunks.append(
            Chunk(
                text=" ".join(sentence.text for _, sentence in self._pending),
                sentence_indices=indices,
                char_start=self._pending[0][1].char_start,
                char_end=self._pending[-1][1].char_end,
            )
        )
        self._pending = []
        self._length = 0

    def add_pieces(self, index: int, sentence: Sentence) -> None:
        for start, end in split_long_text(sentence.text, max_chars=self.max_chars):
            self.chunks.append(
                Chunk(
                    text=sentence.text[start:end],
                    sentence_indices=(index,),
                    char_start=sentence.char_start + start,
                    char_end=sentence.char_start + end,
                )
            )


def split_long_text(text: str, *, max_chars: int) -> list[tuple[int, int]]:
    """Cut ``text`` into stripped, non-empty spans of at most ``max_chars`` characters."""
    spans: list[tuple[int, int]] = []
    position, end = _strip_span(text, 0, len(text))
    while end - position > max_chars:
        cut = position + _cut_point(text[position : position + max_chars + 1], max_chars)
        piece_start, piece_end = _strip_span(text, position, cut)
        if piece_end > piece_start:
            spans.append((piece_start, piece_end))
        position, end = _strip_span(text, cut, end)
    if end > position:
        spans.append((position, end))
    return spans


def _cut_point(window: str, max_chars: int) -> int:
    """Where to cut a window (``max_chars`` + 1 long, so a space just past the end counts)."""
    shortest = max(1, max_chars // 4)  # avoid slivers: a clause cut must keep a quarter
    clause_ends = [m.end() for m in _CLAUSE_END.finditer(window, shortest) if m.end() <= max_chars]
    if clause_ends:
        return clause_ends[-1]
    space = window.rfind(" ", 1, max_chars + 1)
    if space > 0:
        return space
    cut = max_chars
    # Do not separate a base letter from its combining accents.
    while cut > 1 and unicodedata.combining(window[cut]):
        cut -= 1
    return cut
