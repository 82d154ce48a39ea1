"""Text preparation for speech: normalisation, sentence splitting and chunk packing.

Every engine receives plain text (Polly with ``TextType="text"``, espeak-ng without ``-m``), so
nothing here is a security boundary against markup injection; the clean-up exists so that
angle-bracket junk, URLs, hashes and emoji are not read aloud and so that offsets are stable.

Offsets in ``Sentence`` and ``Chunk`` index into the *normalised* text, which is what a player
shows while highlighting the sentence being spoken.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

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
_ENTITY = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")
_ZERO_WIDTH_JOINERS = "\u200c\u200d"
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_NOT_PRINTABLE_ASCII = re.compile(r"[^ -~]")
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
_ARROWS_TO = re.compile("\\s*[\u2192\u21d2\u27f6\u27f9\u2794\u279c]\\s*")
# List bullets and Markdown heading marks at the start of a line.
_LIST_MARKER = re.compile(
    "^[ \t]*(?:[-*+\u2022\u25e6\u25aa\u2023\u25cf\u25a0\u27a2\u27a4\u25ba\u25b6]|#{1,6})[ \t]+",
    re.MULTILINE,
)
_INLINE_BULLET = re.compile("\\s*[\u2022\u25e6\u25aa\u2023\u25cf\u2219]\\s*")
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
_REPEATED_MARKS = re.compile(r"([!?])\1+")
# Scripts written without spaces: a long run of them is a sentence, not junk.
_UNSPACED_SCRIPT = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\U00020000-\U0002ffff]"
)
_LONG_TOKEN = re.compile(rf"\S{{{LONG_WORD_CHARS + 1},}}")
_WORD_SEPARATORS = re.compile(r"[/\\_\-.,:;=+|~#&?!()\[\]{}'\"]+")


def normalize_for_speech(text: str, *, language: str = "en") -> str:
    """Return ``text`` cleaned for reading aloud; "" when nothing speakable is left.

    Paragraph breaks survive as "\\n\\n" (they always end a sentence) and line breaks as "\\n"
    (left to the sentence splitter and the engine); other whitespace becomes single spaces.
    Symbol words are English only: other languages leave "&", "%" and friends to the engine,
    which reads them in the voice's language.
    """
    english = _primary_language(language) == "en"
    steps: list[Callable[[str], str]] = [
        _drop_surrogates,
        _drop_trademarks,
        _nfkc,
        _unescape_entities,
        _normalise_line_breaks,
        _drop_invisible,
        _strip_markup,
        lambda value: _replace_urls(value, english=english),
        lambda value: _angle_brackets(value, english=english),
        lambda value: _expand_symbols(value, english=english),
        _drop_pictographs,
        _strip_decoration,
        # After the steps above, which can leave "- " or "# " at the start of a line ("-°").
        _lists_and_bullets,
        _break_long_words,
        _tidy,
    ]
    # Normalising normalised text must change nothing: stored offsets index into it. A step
    # can expose work for an earlier one ("#--0" → "# — 0"), so run to a fixed point; the
    # second pass is nearly always the last and costs a few milliseconds per page.
    for _ in range(3):
        previous = text
        for step in steps:
            text = step(text)
        if text == previous:
            break
    return text if has_speakable_text(text) else ""


def has_speakable_text(text: str) -> bool:
    """True when ``text`` holds at least one letter or digit in any script."""
    return any(char.isalnum() for char in text)


def _primary_language(language: str) -> str:
    return re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]


def _drop_surrogates(text: str) -> str:
    # Lone surrogates cannot be encoded to UTF-8 and would crash every engine. Halves of a valid
    # pair that arrived as two code points (e.g. from JSON) are joined first, so "\ud83d\ude00"
    # becomes one emoji (dropped later) rather than two deletions.
    if not _SURROGATE.search(text):
        return text
    paired = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return _SURROGATE.sub("", paired)


def _drop_trademarks(text: str) -> str:
    return _TRADEMARKS.sub("", text)


def _nfkc(text: str) -> str:
    # Fullwidth letters, ligatures ("ﬁ"), "…" → "...", superscripts → digits.
    return unicodedata.normalize("NFKC", text)


def _unescape_entities(text: str) -> str:
    # Only well-formed entities, and a few rounds so "&amp;lt;speak&amp;gt;" cannot smuggle a
    # tag past the markup step that follows.
    for _ in range(3):
        unescaped = _ENTITY.sub(lambda match: html.unescape(match.group()), text)
        if unescaped == text:
            break
        text = unescaped
    # An entity may name a fullwidth less-than sign; NFKC again so the markup step sees "<".
    return unicodedata.normalize("NFKC", text)


def _normalise_line_breaks(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2029", "\n\n").replace("\x0c", "\n\n")  # paragraph sep, form feed
    return text.replace("\u2028", "\n").replace("\x0b", "\n").replace("\x85", "\n")


def _drop_invisible(text: str) -> str:
    # Control, format, private-use and unassigned characters are never spoken. Tabs become
    # spaces; the zero-width (non-)joiners matter inside Indic and Persian words. Terminal
    # colour codes (pasted logs) go whole, or "[31m" would be read out.
    text = _ANSI_ESCAPE.sub("", text)
    # Printable ASCII is always visible; only the rest needs a Unicode category lookup.
    return _NOT_PRINTABLE_ASCII.sub(lambda match: _visible_char(match.group()), text)


def _visible_char(char: str) -> str:
    if char == "\n" or char in _ZERO_WIDTH_JOINERS:
        return char
    category = unicodedata.category(char)
    if category == "Cc":
        return " " if char == "\t" else ""
    if category in ("Cf", "Co", "Cn", "Cs"):
        return ""
    return char


def _strip_markup(text: str) -> str:
    text = _MD_LINK.sub(lambda match: match.group(1), text)
    text = _CITATION.sub("", text)
    # A tag may hide another once removed ("<<b>speak>"), so repeat until nothing changes.
    while True:
        stripped = _MARKUP.sub(_tag_replacement, text)
        if stripped == text:
            return text
        text = stripped


def _tag_replacement(match: re.Match[str]) -> str:
    # A space only where the tag separated two words ("one<br>two"); elsewhere nothing, so
    # the halves of a nested tag close up and are caught by the next round.
    text, start, end = match.string, match.start(), match.end()
    between_words = start > 0 and end < len(text) and text[start - 1].isalnum()
    return " " if between_words and text[end].isalnum() else ""


def _replace_urls(text: str, *, english: bool) -> str:
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

    return _URL.sub(replace_url, text)


def _url_domain(url: str) -> str:
    rest = re.sub(r"^[a-z]+://", "", url, flags=re.IGNORECASE)
    host = re.split(r"[/?#]", rest, maxsplit=1)[0]
    host = host.rpartition("@")[2]  # never read out user:password@
    host = re.sub(r":\d*$", "", host)
    host = re.sub(r"^www\.", "", host, flags=re.IGNORECASE).strip(".")
    return host if re.fullmatch(r"[\w.\-]{1,100}", host) and has_speakable_text(host) else ""


def _angle_brackets(text: str, *, english: bool) -> str:
    # What survives _strip_markup is not a tag. Comparisons ("x < 5") are read; any other
    # angle bracket is junk and becomes a space, so none reaches an engine.
    if english:
        text = _COMPARE_LT.sub(" less than ", text)
        text = _COMPARE_GT.sub(" greater than ", text)
    return text.replace("<", " ").replace(">", " ")


def _lists_and_bullets(text: str) -> str:
    text = _LIST_MARKER.sub("", text)
    return _INLINE_BULLET.sub(", ", text)


def _expand_symbols(text: str, *, english: bool) -> str:
    if not english:
        return _ARROWS_TO.sub(" ", text)
    text = _ARROWS_TO.sub(" to ", text)
    text = _DEGREES.sub(_degrees_words, text)
    text = _PERCENT.sub(" percent ", text)
    return _SYMBOL_WORDS_RE.sub(lambda match: _SYMBOL_WORDS_EN[match.group()], text)


def _degrees_words(match: re.Match[str]) -> str:
    scale = {"C": " Celsius", "F": " Fahrenheit"}.get(match.group(1) or "", "")
    return f" degrees{scale}"


def _drop_pictographs(text: str) -> str:
    text = _PICTOGRAPHS.sub("", text)
    # Joiners that held emoji sequences together are now orphans.
    return _STRAY_JOINER.sub("", text)


def _strip_decoration(text: str) -> str:
    text = _EMPHASIS.sub("", text)
    text = _DECORATION.sub(lambda match: "..." if match.group(1) == "." else " ", text)
    text = _DASHES.sub(" \u2014 ", text)  # ASCII "--" is an em dash: a pause, not "minus"
    text = re.sub(r"_{2,}", " ", text)
    text = text.replace("|", ", ")
    text = re.sub(r"[\[{]", "(", text)
    text = re.sub(r"[\]}]", ")", text)
    return _REPEATED_MARKS.sub(r"\1", text)


def _break_long_words(text: str) -> str:
    return _LONG_TOKEN.sub(_break_long_word, text)


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


def _tidy(text: str) -> str:
    # Each rule can expose work for another ("0! !" → "0!!" → "0!"), so repeat until stable;
    # that also makes normalising twice give the same text as normalising once.
    for _ in range(5):
        tidied = _tidy_once(text)
        if tidied == text:
            break
        text = tidied
    return text


def _tidy_once(text: str) -> str:
    text = re.sub(r"[^\S\n]+", " ", text)  # every space-like run, except newlines
    text = re.sub(r" ?\n ?", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    text = re.sub(r"\(\s*\)", "", text)  # parentheses emptied by earlier steps
    text = re.sub(r" +([,;:.!?)])", r"\1", text)
    text = re.sub(r"\( +", "(", text)
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    text = re.sub(r"(^|\n)[,;:]+ ?", r"\1", text)  # a line does not start with a comma
    text = _REPEATED_MARKS.sub(r"\1", text)
    text = re.sub(r"\.{4,}", "...", text)
    return text.strip()


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
