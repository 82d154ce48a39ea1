"""Bytes of a web page or a text file to text: by declaration, then by detection.

The order, for a whole file or its first bytes:

1. A byte order mark (UTF-8, UTF-16, UTF-32) settles it.
2. Bytes that are valid UTF-8 and not plain ASCII are UTF-8, whatever a label says: a legacy
   encoding almost never yields valid UTF-8 by accident, while pages labelled "gb2312" or
   "iso-8859-1" that were saved as UTF-8 are common. (So is UTF-8 cut off inside its last
   character, which is read as UTF-8 with that character replaced.)
3. What the file declares (a `charset` parameter of the HTTP Content-Type for a fetched page, a
   `<meta charset>`, an XML declaration), by the Encoding Standard's names (so "iso-8859-1" is
   read as Windows-1252 and "gb2312" as GB18030, as browsers do), if the bytes decode with it
   strictly.
4. Detection with charset-normalizer, among the legacy encodings of the web (the Encoding
   Standard's list), on a sample of the bytes; the first candidate that decodes the whole file
   strictly wins. A near tie on a short sample is broken by how the candidates read (words that
   mix Latin letters with another script are a sign of the wrong code page) and then in favour
   of Windows-1252, the web's default.
5. Failing all that, the declared (else the detected, else Windows-1252) encoding with
   undecodable bytes replaced, and the result says so.

Only a bounded sample is ever given to the detector, and at most a few candidates are tried on
the whole file, so a large file costs a few decoding passes.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from charset_normalizer import CharsetMatch

__all__ = [
    "Decoded",
    "declared_in_markup",
    "decode_bytes",
    "display_name",
    "encoding_name",
    "whole_characters",
]

# Enough for the detector to be sure and cheap to analyse (it samples within it again).
_SAMPLE_BYTES = 64 * 1024
# Where a declaration counts in markup (the HTML standard's prescan looks at 1024 bytes; XHTML
# chapters and pages with long comments before their <meta> need more).
_DECLARATION_WINDOW = 4096
_MAX_CANDIDATES = 4
# How far ISO-2022 escapes are looked for.
_SCAN_BYTES = 4 * 1024 * 1024
# How much of a line around its first non-ASCII byte the sample takes.
_PIECE_BYTES = 4096
_NON_ASCII = re.compile(rb"[\x80-\xff]")
# Shift sequences of the 7-bit encodings, which look like ASCII to everything else.
_ISO_2022_ESCAPES = (
    (b"\x1b$)C", "iso2022_kr"),
    (b"\x1b$B", "iso2022_jp"),
    (b"\x1b$@", "iso2022_jp"),
    (b"\x1b$(D", "iso2022_jp_2"),
)
_SAFE_ENDS = (b"\n", b" ", b'"', b"\t", b"\r")
# Candidates whose mess ratio is this close to the best one's are compared by how they read.
_CHAOS_TIE = 0.05
# Below this coherence the detector recognised no language in its best reading (short samples).
_CONFIDENT_COHERENCE = 0.2
# Readings this close in coherence to the best one are told apart by the letters they write.
_COHERENCE_TIE = 0.1
# Windows-1252 joins a tie it was left out of when its mess ratio is this close (garbled text
# scores above 1).
_DEFAULT_CHAOS_ALLOWANCE = 0.5

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# The Encoding Standard's labels whose decoder is not the Python codec of the same name.
_WEB_NAMES = {
    **dict.fromkeys(
        (
            "ascii", "us-ascii", "ansi_x3.4-1968", "iso-8859-1", "iso8859-1", "iso88591",
            "iso_8859-1", "iso_8859-1:1987", "latin1", "l1", "cp819", "ibm819", "csisolatin1",
            "iso-ir-100", "x-cp1252", "windows-1252", "cp1252",
        ),
        "cp1252",
    ),
    **dict.fromkeys(
        (
            "iso-8859-9", "iso8859-9", "iso88599", "iso_8859-9", "iso_8859-9:1989", "latin5",
            "l5", "csisolatin5", "iso-ir-148", "windows-1254", "x-cp1254", "cp1254",
        ),
        "cp1254",
    ),
    **dict.fromkeys(
        ("tis-620", "iso-8859-11", "iso8859-11", "iso885911", "windows-874", "dos-874"), "cp874"
    ),
    **dict.fromkeys(
        (
            "gb2312", "gb_2312", "gb_2312-80", "csgb2312", "iso-ir-58", "chinese", "gbk",
            "x-gbk", "cp936", "windows-936", "gb18030",
        ),
        "gb18030",
    ),
    **dict.fromkeys(
        (
            "shift_jis", "shift-jis", "sjis", "ms_kanji", "x-sjis", "csshiftjis", "windows-31j",
            "ms932", "cp932",
        ),
        "cp932",
    ),
    **dict.fromkeys(
        (
            "euc-kr", "euc_kr", "cseuckr", "csksc56011987", "iso-ir-149", "korean",
            "ks_c_5601-1987", "ks_c_5601-1989", "ksc5601", "ksc_5601", "windows-949", "cp949",
        ),
        "cp949",
    ),
    **dict.fromkeys(("big5", "big5-hkscs", "cn-big5", "csbig5", "x-x-big5"), "big5hkscs"),
    **dict.fromkeys(("iso-8859-8-i", "csiso88598i", "logical"), "iso8859-8"),
    **dict.fromkeys(("x-mac-cyrillic", "x-mac-ukrainian"), "mac-cyrillic"),
    **dict.fromkeys(("macintosh", "mac", "x-mac-roman", "csmacintosh"), "mac-roman"),
    **dict.fromkeys(
        ("unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "x-unicode20utf8"), "utf-8"
    ),
}  # fmt: skip
# The legacy encodings of the Encoding Standard, as charset-normalizer names them: what a page
# or a text file from the last thirty years is written in. (Detectors that also weigh the
# hundred other code pages Python knows pick Urdu or Ukrainian DOS pages for short French text.)
_WEB_ENCODINGS = [
    "cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258",
    "iso8859_2", "iso8859_3", "iso8859_4", "iso8859_5", "iso8859_6", "iso8859_7", "iso8859_8",
    "iso8859_10", "iso8859_13", "iso8859_14", "iso8859_15", "iso8859_16", "koi8_r", "koi8_u",
    "mac_roman", "mac_cyrillic", "cp866", "cp874", "cp932", "euc_jp", "iso2022_jp", "cp949",
    "gb18030", "big5hkscs",
]  # fmt: skip
_DEFAULT = "cp1252"
# The Windows code page in which text in a language was customarily written (Windows-1252 for
# those not named), by the names charset-normalizer gives languages.
_CUSTOMARY = {
    **dict.fromkeys(
        ("Czech", "Polish", "Hungarian", "Slovak", "Slovene", "Croatian", "Romanian"), "cp1250"
    ),
    **dict.fromkeys(("Russian", "Ukrainian", "Bulgarian", "Serbian", "Kazakh"), "cp1251"),
    "Greek": "cp1253",
    "Turkish": "cp1254",
    "Hebrew": "cp1255",
    **dict.fromkeys(("Arabic", "Farsi"), "cp1256"),
    **dict.fromkeys(("Lithuanian", "Latvian", "Estonian"), "cp1257"),
    "Vietnamese": "cp1258",
    "Thai": "cp874",
    "Japanese": "cp932",
    "Chinese": "gb18030",
    "Korean": "cp949",
}

_DISPLAY_NAMES = {
    "cp932": "Shift_JIS",
    "cp949": "EUC-KR",
    "cp866": "IBM866",
    "gb18030": "GB18030",
    "big5hkscs": "Big5",
    "euc_jp": "EUC-JP",
    "iso2022_jp": "ISO-2022-JP",
    "iso2022_jp_2": "ISO-2022-JP",
    "iso2022_kr": "ISO-2022-KR",
    "koi8-r": "KOI8-R",
    "koi8-u": "KOI8-U",
    "mac-roman": "Mac OS Roman",
    "mac-cyrillic": "Mac OS Cyrillic",
    "utf-8": "UTF-8",
}
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"<\?xml[^>]+encoding\s*=\s*[\"']([A-Za-z0-9_.:-]+)", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    encoding: str  # Python's name for the codec used
    replaced: bool = False  # some bytes did not decode and were replaced
    detected: bool = False  # neither a byte order mark nor a declaration said which it is


def encoding_name(label: str) -> str | None:
    """The Python codec for an encoding label as browsers read it, or None if unknown."""
    label = label.strip().lower()
    name = _WEB_NAMES.get(label, label)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def display_name(codec: str) -> str:
    """The name people know an encoding by ("Windows-1251", "Shift_JIS")."""
    name = codecs.lookup(codec).name
    if name in _DISPLAY_NAMES:
        return _DISPLAY_NAMES[name]
    if name.startswith("cp") and name[2:].isdigit():
        return f"Windows-{name[2:]}"
    if name.startswith("iso8859-"):
        return f"ISO-8859-{name.removeprefix('iso8859-')}"
    return name.upper()


def whole_characters(head: bytes) -> bytes:
    """The first bytes of a file without a character its end may have cut in two: up to the
    last byte that cannot be part of a multi-byte character, if there is one near the end."""
    end = max(head.rfind(byte, max(0, len(head) - 256)) for byte in _SAFE_ENDS)
    return head[: end + 1] if end >= 0 else head


def declared_in_markup(head: bytes) -> str | None:
    """The encoding a page's `<meta>` or XML declaration names, if any and if known.

    A UTF-16 or UTF-32 label on bytes that were just read as ASCII is a mistake (the HTML
    standard reads such pages as UTF-8), so it is taken as UTF-8.
    """
    window = head[:_DECLARATION_WINDOW]
    match = _META_CHARSET.search(window) or _XML_ENCODING.search(window)
    if match is None:
        return None
    name = encoding_name(match.group(1).decode("ascii"))
    if name is not None and name.startswith(("utf-16", "utf-32")):
        return "utf-8"
    return name


def decode_bytes(data: bytes, *, declared: str | None = None, markup: bool = False) -> Decoded:
    """`data` as text, following the order in the module docstring.

    `declared`: an encoding label from outside the bytes (an HTTP charset), which comes before
    what the bytes declare; `markup`: look for a `<meta>` or XML declaration too.
    """
    for bom, name in _BOMS:
        if data.startswith(bom):
            text, replaced = _decode_loosely(data[len(bom) :], name)
            return Decoded(text, name, replaced=replaced)
    declared_name: str | None = encoding_name(declared) if declared else None
    if declared_name is None and markup:
        declared_name = declared_in_markup(data)
    if declared_name is None and b"\x1b" in data[:_SCAN_BYTES] and data.isascii():
        declared_name = _iso_2022(data)
    utf8 = _strict(data, "utf-8")
    if utf8 is not None and (not data.isascii() or declared_name is None):
        return Decoded(utf8, "utf-8")
    if utf8 is None and declared_name in (None, "utf-8"):
        cut_short = _utf8_cut_short(data)
        # Only with UTF-8 before the cut: "café" in Windows-1252 ends in a UTF-8 lead byte too.
        if cut_short is not None and not cut_short.isascii():
            return Decoded(cut_short + "\ufffd", "utf-8", replaced=True)
    if declared_name is not None:
        as_declared = _strict(data, declared_name)
        if as_declared is not None:
            return Decoded(as_declared, declared_name)
    candidates = _candidates(data)
    for candidate in candidates:
        detected = _strict(data, candidate)
        if detected is not None:
            return Decoded(detected, candidate, detected=declared_name is None)
    fallback = declared_name or next(iter(candidates), None) or _least_broken(data)
    text, replaced = _decode_loosely(data, fallback)
    return Decoded(text, fallback, replaced=replaced, detected=declared_name is None)


def _utf8_cut_short(data: bytes) -> str | None:
    """The text of UTF-8 that was cut off in the middle of its last character, or None."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        return decoder.decode(data, final=False)
    except UnicodeDecodeError:
        return None


def _iso_2022(data: bytes) -> str | None:
    """The 7-bit Japanese or Korean encoding whose escape sequences the bytes use, if any."""
    head = data[:_SCAN_BYTES]
    for escape, name in _ISO_2022_ESCAPES:
        if escape in head:
            return name
    return None


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _decode_loosely(data: bytes, encoding: str) -> tuple[str, bool]:
    text = data.decode(encoding, errors="replace")
    # U+FFFD may have been in the file already; either way the reader sees the same mark.
    return text, "\ufffd" in text


def _candidates(data: bytes) -> list[str]:
    """Legacy encodings the sample may be in, the most likely first (at most a few)."""
    from charset_normalizer import from_bytes

    sample = _sample(data)
    matches = list(from_bytes(sample, cp_isolation=_WEB_ENCODINGS, preemptive_behaviour=False))
    if not matches:
        return [_DEFAULT] if _strict(sample, _DEFAULT) is not None else []
    if matches[0].coherence >= _CONFIDENT_COHERENCE:
        names = _in_language(sample, matches)
    else:
        names = _without_language(sample, matches)
    return list(dict.fromkeys(names))[:_MAX_CANDIDATES]


def _in_language(sample: bytes, matches: list[CharsetMatch]) -> list[str]:
    """The candidates in order when the detector recognised a language in its best reading:
    among the readings about as clean and as coherent as the best, the one that writes most of
    that language's own letters (Portuguese "ã" rather than Romanian "ă" for the same byte),
    then the one that reads as the Windows code page customary for the language, then the
    detector's order."""
    best = matches[0]
    close = [
        match
        for match in matches
        if match.chaos <= best.chaos + _CHAOS_TIE
        and match.coherence >= best.coherence - _COHERENCE_TIE
    ]
    letters = _letters_of(best.language)
    customary = _CUSTOMARY.get(best.language, _DEFAULT)
    names = [_codec(match.encoding) for match in close]
    texts = {name: sample.decode(name, errors="replace") for name in names}
    customary_text = sample.decode(customary, errors="replace")

    def rank(item: tuple[int, str]) -> tuple[int, int, int]:
        order, name = item
        own = sum(texts[name].count(letter) for letter in letters)
        return -own, 0 if texts[name] == customary_text else 1, order

    ordered = [name for _, name in sorted(enumerate(names), key=rank)]
    return ordered + [_codec(match.encoding) for match in matches if match not in close]


def _letters_of(language: str) -> str:
    """The non-ASCII letters among the language's most frequent ones, as the detector has
    them ("" for a language it does not describe)."""
    try:
        from charset_normalizer.constant import FREQUENCIES
    except ImportError:  # a later version may move it: the detector's order then stands
        return ""
    return "".join(char for char in FREQUENCIES.get(language, ()) if not char.isascii())


def _without_language(sample: bytes, matches: list[CharsetMatch]) -> list[str]:
    """The candidates in order when the sample is too short to recognise a language in: among
    those about as clean as the best, the one whose words read most like words, then
    Windows-1252 (with every code page that reads the sample the same way), then the
    detector's order."""
    best_chaos = min(match.chaos for match in matches)
    close = [match for match in matches if match.chaos <= best_chaos + _CHAOS_TIE]
    names = [_codec(match.encoding) for match in close]
    if _DEFAULT not in names and _plausible_default(sample, best_chaos):
        names.append(_DEFAULT)
    texts = {name: sample.decode(name, errors="replace") for name in names}

    def rank(item: tuple[int, str]) -> tuple[int, int, int]:
        order, name = item
        reads_as_default = name == _DEFAULT or texts[name] == texts.get(_DEFAULT)
        return _odd_words(texts[name]), 0 if reads_as_default else 1, order

    ordered = [name for _, name in sorted(enumerate(names), key=rank)]
    if texts[ordered[0]] == texts.get(_DEFAULT):
        ordered[0] = _DEFAULT
    return ordered + [_codec(match.encoding) for match in matches if match not in close]


def _least_broken(data: bytes) -> str:
    """The legacy encoding that leaves the fewest bytes of the sample undecodable (a file with a
    few stray bytes decodes strictly in none): Windows-1252 among equals."""
    from charset_normalizer.md import mess_ratio

    sample = _sample(data)

    def damage(name: str) -> tuple[int, float, bool]:
        text = sample.decode(name, errors="replace")
        return text.count("\ufffd"), mess_ratio(text, 1.0), name != _DEFAULT

    return min((_codec(name) for name in _WEB_ENCODINGS), key=damage)


def _plausible_default(sample: bytes, best_chaos: float) -> bool:
    """Whether Windows-1252 reads the sample about as cleanly as the detector's best: it is
    sometimes left out of a near tie on a short sample of French or Spanish."""
    from charset_normalizer.md import mess_ratio

    text = _strict(sample, _DEFAULT)
    return text is not None and mess_ratio(text, 1.0) <= best_chaos + _DEFAULT_CHAOS_ALLOWANCE


def _codec(name: str) -> str:
    return codecs.lookup(name).name


def _sample(data: bytes) -> bytes:
    """What the detector looks at: the lines that hold non-ASCII bytes (markup and English are
    the same in every code page and would drown the evidence), wherever they are in the file,
    up to _SAMPLE_BYTES; a line is taken at most _PIECE_BYTES either side of its first such
    byte."""
    pieces: list[bytes] = []
    size = 0
    position = 0
    while size < _SAMPLE_BYTES:
        found = _NON_ASCII.search(data, position)
        if found is None:
            break
        start = _safe_start(data, found.start())
        end = _safe_end(data, found.start())
        pieces.append(data[start:end])
        size += end - start + 1
        position = max(end, found.start() + 1)
    if not pieces:
        return _cut(data, _SAMPLE_BYTES)
    return _cut(b"\n".join(pieces), _SAMPLE_BYTES)


def _safe_start(data: bytes, index: int) -> int:
    """Where the line holding `index` starts, or a safe place at most _PIECE_BYTES before it.

    The byte before the first non-ASCII byte after ASCII text is never inside a character."""
    floor = max(0, index - _PIECE_BYTES)
    line_start = data.rfind(b"\n", floor, index) + 1
    return line_start if line_start > 0 else max(floor, _after_safe_byte(data, floor, index))


def _safe_end(data: bytes, index: int) -> int:
    """Where the line holding `index` ends, or a safe place at most _PIECE_BYTES after it."""
    ceiling = min(len(data), index + _PIECE_BYTES)
    line_end = data.find(b"\n", index, ceiling)
    if line_end >= 0:
        return line_end
    if ceiling == len(data):
        return ceiling
    end = max(data.rfind(byte, index, ceiling) for byte in _SAFE_ENDS)
    return end + 1 if end >= 0 else ceiling


def _after_safe_byte(data: bytes, start: int, end: int) -> int:
    found = [data.find(byte, start, end) for byte in _SAFE_ENDS]
    return min((index + 1 for index in found if index >= 0), default=end)


def _cut(data: bytes, size: int) -> bytes:
    """At most `size` bytes of `data`, ending after a byte below 0x30 (a space, a line break, a
    quote), which is never part of a multi-byte character in any of the legacy encodings."""
    if len(data) <= size:
        return data
    window = data[:size]
    end = max(window.rfind(byte) for byte in _SAFE_ENDS)
    return window[: end + 1] if end >= size // 2 else window


def _odd_words(text: str) -> int:
    """How many words read like the wrong code page: Latin letters mixed with another script in
    one word ("cafй"), or a word of three or more letters with no ASCII letter at all that is
    Latin nonetheless ("Ďđčâĺň", Russian read as Central European)."""
    odd = 0
    for word in _WORD.findall(text):
        if word.isascii():
            continue
        scripts = {_script(char) for char in word}
        if "LATIN" not in scripts:
            continue
        # Latin letters run into Chinese or Japanese ones in text without spaces: not a sign.
        if scripts & _ALPHABETS or (len(word) >= 3 and not _has_ascii(word)):
            odd += 1
    return odd


# Scripts told apart; Chinese, Japanese and Korean letters mix in words and count as one.
_ALPHABETS = frozenset({"CYRILLIC", "GREEK", "HEBREW", "ARABIC", "THAI", "ARMENIAN", "GEORGIAN"})
_SCRIPTS = _ALPHABETS | {"LATIN"}
_EAST_ASIAN = frozenset({"CJK", "HIRAGANA", "KATAKANA", "HANGUL", "HALFWIDTH", "FULLWIDTH"})


def _script(char: str) -> str:
    """The script of a letter, or "" for one whose script does not tell code pages apart."""
    first = unicodedata.name(char, "").split(" ", 1)[0]
    if first in _SCRIPTS:
        return first
    return "EAST_ASIAN" if first in _EAST_ASIAN else ""


def _has_ascii(word: str) -> bool:
    return any(char.isascii() for char in word)
