"""What kind of document a file is, judged by its content alone.

The file name and the content type a client sends are both chosen by the uploader; only the
bytes decide. ZIP containers are opened (via the bounded reader) because their first bytes say
only "ZIP": an EPUB, a DOCX, an XLSX and a plain archive all start with `PK\\x03\\x04`.
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
from pathlib import Path
from typing import IO

import filetype

from document_processing.extractors.archive import is_safe_member_name, read_bounded
from document_processing.extractors.base import ExtractionError
from document_processing.extractors.charsets import decode_bytes, whole_characters

__all__ = ["DOCUMENT_TYPES", "HEAD_BYTES", "detect_document_type", "detect_file_type"]

DOCUMENT_TYPES = ("pdf", "epub", "docx", "html", "markdown", "text")
# How much of the file the caller should hand in as `head`: enough for every signature below.
HEAD_BYTES = 8 * 1024

_PDF_WINDOW = 1024
_HTML_WINDOW = 2048
_ZIP_SIGNATURE = b"PK\x03\x04"
_EPUB_MIMETYPE = b"application/epub+zip"
# Binary signatures so short that ordinary text can start with them ("MZ", "BM", "ID3", "FWS");
# when the bytes are clean text, the text wins.
_TEXT_COLLISIONS = frozenset({"exe", "bmp", "mp3", "swf"})
# Other C0 controls in more than 1 in 100 characters means the bytes are not prose.
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v\x1a\x1b")
_MAX_CONTROL_SHARE = 100

_LEADING_MARKUP = re.compile(r"\A(?:\s|<!--.*?-->|<\?xml[^>]*\?>)*", re.DOTALL)
_HTML_DOCUMENT_TAG = re.compile(r"<(?:!doctype\s+html|html|head|body)[\s>/]", re.IGNORECASE)
_HTML_FRAGMENT_START = re.compile(
    r"<(?:meta|title|link|style|div|p|h[1-6]|article|section|main|table|ul|ol)[\s>/]",
    re.IGNORECASE,
)

_MARKDOWN_STRONG = (
    re.compile(r"^ {0,3}#{1,6}[ \t]+\S", re.MULTILINE),  # ATX heading
    re.compile(r"^ {0,3}(?:```|~~~)", re.MULTILINE),  # code fence
    re.compile(r"\[[^\]\n]+\]\([^)\s]+(?:\s+\"[^\"]*\")?\)"),  # inline link
    re.compile(r"^ {0,3}\|.*\|[ \t]*\n {0,3}\|?[ \t]*:?-{3,}", re.MULTILINE),  # table
    re.compile(r"^\S[^\n]*\n {0,3}(?:=+|-+)[ \t]*$", re.MULTILINE),  # setext heading
)
_MARKDOWN_WEAK = (
    re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])[ \t]+\S", re.MULTILINE),  # list item
    re.compile(r"(\*\*|__)(?=\S)[^\n]+?(?<=\S)\1"),  # strong emphasis
    re.compile(r"(?<![*\w])\*(?=\S)[^*\n]+?(?<=\S)\*(?![*\w])"),  # emphasis
    re.compile(r"^ {0,3}>[ \t]?\S", re.MULTILINE),  # block quote
    re.compile(r"`[^`\n]+`"),  # code span
)
_MIN_WEAK_SIGNALS = 2


def detect_file_type(path: Path) -> str | None:
    """The document type of the file at `path` (reads its head, and the ZIP directory if any)."""
    with path.open("rb") as stream:
        head = stream.read(HEAD_BYTES)
    return detect_document_type(head, path=path)


def detect_document_type(head: bytes, *, path: Path | None = None) -> str | None:
    """One of DOCUMENT_TYPES, or None for anything Pagecast cannot read.

    `head` is the first HEAD_BYTES of the file (all of it, if shorter). ZIP containers need
    their central directory, at the end of the file: pass `path`, or a `head` that is the
    whole file.
    """
    if not head:
        return None
    if b"%PDF-" in head[:_PDF_WINDOW]:
        return "pdf"
    if head.startswith(_ZIP_SIGNATURE):
        return _detect_zip(path, head)
    text = _decode_text(head)
    if text is None:
        # Images, audio, video, executables and the like (filetype would name them).
        return None
    guess = filetype.guess(head)
    if guess is not None and guess.extension not in _TEXT_COLLISIONS:
        # Text-based formats we do not read, such as RTF and PostScript.
        return None
    return _detect_text(text)


# ---------------------------------------------------------------------------------------------
# ZIP containers
# ---------------------------------------------------------------------------------------------


def _detect_zip(path: Path | None, head: bytes) -> str | None:
    source: Path | IO[bytes] = path if path is not None else io.BytesIO(head)
    try:
        with zipfile.ZipFile(source) as archive:
            return _container_type(archive)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, ExtractionError):
        # A damaged ZIP, or (without a path) a head too short to hold the directory.
        return None


def _container_type(archive: zipfile.ZipFile) -> str | None:
    names = {info.filename for info in archive.infolist() if is_safe_member_name(info.filename)}
    if "mimetype" in names and "META-INF/container.xml" in names:
        info = archive.getinfo("mimetype")
        if info.flag_bits & 0x1:
            # Encrypted with a password: its names say EPUB, and the lock is named on upload.
            return "epub"
        mimetype = read_bounded(archive, info, limit=len(_EPUB_MIMETYPE) + 8)
        if mimetype.strip() == _EPUB_MIMETYPE:
            return "epub"
    if "[Content_Types].xml" in names and "word/document.xml" in names:
        return "docx"
    # XLSX, PPTX, ODT, JAR, plain archives: none of them is a document we read.
    return None


# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------


def _decode_text(head: bytes) -> str | None:
    """The head as text if it reads as prose in some encoding (see `charsets`), else None."""
    # A full-length head may end in the middle of a multi-byte character; a shorter one is the
    # whole file, so an unfinished character there is an encoding error.
    complete = len(head) < HEAD_BYTES
    text = _decode_unicode(head, complete=complete)
    if text is None:
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return None
        # A legacy encoding (Windows-1252, Shift_JIS, GB18030, ...), declared or detected.
        text = decode_bytes(head if complete else whole_characters(head), markup=True).text
    if not text or "\x00" in text:
        return None
    controls = sum(1 for char in text if char < " " and char not in _ALLOWED_CONTROLS)
    if controls * _MAX_CONTROL_SHARE > len(text):
        return None
    return text


def _decode_unicode(head: bytes, *, complete: bool) -> str | None:
    """The head as UTF-8 (BOM optional) or UTF-16 with a BOM, or None."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        return decoder.decode(head, final=complete)
    except UnicodeDecodeError:
        return None


def _detect_text(text: str) -> str | None:
    stripped = _LEADING_MARKUP.sub("", text, count=1)
    if stripped.startswith("<"):
        if _HTML_DOCUMENT_TAG.search(text[:_HTML_WINDOW]):
            return "html"
        # READMEs often open with `<p align="center">` and go on in Markdown: a fragment is
        # HTML only when nothing in it says Markdown.
        if _HTML_FRAGMENT_START.match(stripped) and not _has_strong_markdown(text):
            return "html"
        if text.lstrip().startswith("<?xml"):
            # XML that is not XHTML (SVG, RSS, Office XML): not a document we can read aloud.
            return None
    return "markdown" if _looks_like_markdown(text) else "text"


def _has_strong_markdown(text: str) -> bool:
    return any(pattern.search(text) for pattern in _MARKDOWN_STRONG)


def _looks_like_markdown(text: str) -> bool:
    if _has_strong_markdown(text):
        return True
    weak = sum(len(pattern.findall(text)) for pattern in _MARKDOWN_WEAK)
    return weak >= _MIN_WEAK_SIGNALS
