"""Opening ZIP containers (EPUB, DOCX) without trusting them.

Every member is checked before anything is decompressed: its name (no absolute paths, no `..`),
its declared size against the total budget, and its declared compression ratio. Reads then go
through a bounded reader that counts the bytes that really come out of the decompressor, so a
member whose headers lie about its size is stopped at the declared size or at the budget,
whichever is smaller.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from document_processing.extractors.base import ExtractionError, ExtractionLimits

__all__ = [
    "MAX_MEMBERS",
    "SafeZip",
    "check_members",
    "is_safe_member_name",
    "open_zip",
    "read_bounded",
    "read_limited",
]

# A real EPUB or DOCX has tens to a few thousand members; a million tiny ones is an attack on
# the central-directory parser and on whoever loops over them.
MAX_MEMBERS = 10_000
# The ratio of a small member says little (10 KB of spaces compresses 500-fold) and the total
# budget bounds small members anyway; Apache POI's ZipSecureFile makes the same allowance.
RATIO_GRACE_BYTES = 100 * 1024
_CHUNK = 64 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")

_DAMAGED = "This file is damaged or is not a complete {kind} file."
_TOO_BIG = "This {kind} file expands to more data than we can process."
_BOMB = "This {kind} file is compressed in a suspicious way and was not opened."
_UNSAFE_NAME = "This {kind} file contains an unsafe file name and was not opened."
_ENCRYPTED = "This {kind} file is password-protected; please upload an unprotected copy."

# What zipfile and zlib raise on broken or unsupported data, besides BadZipFile.
_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    NotImplementedError,
    ValueError,
)


def is_safe_member_name(name: str) -> bool:
    """False for names that could escape a directory if anyone ever extracted them."""
    if not name or "\x00" in name or name.startswith(("/", "\\")) or _DRIVE.match(name):
        return False
    parts = re.split(r"[/\\]", name)
    return ".." not in parts


class SafeZip:
    """An opened archive whose member list passed the checks; reads are bounded."""

    def __init__(self, archive: zipfile.ZipFile, *, limits: ExtractionLimits, kind: str) -> None:
        self._archive = archive
        self._limits = limits
        self._kind = kind
        self._budget = limits.max_uncompressed_bytes
        self._infos = {info.filename: info for info in archive.infolist()}
        # Archive producers disagree on case; a case-insensitive fallback finds "Text/Ch1.xhtml"
        # when the manifest says "text/ch1.xhtml".
        self._folded = {name.casefold(): name for name in self._infos}

    @property
    def names(self) -> list[str]:
        return list(self._infos)

    def resolve(self, name: str) -> str | None:
        """The member's stored name, matching exactly or else ignoring case."""
        if name in self._infos:
            return name
        return self._folded.get(name.casefold())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.resolve(name) is not None

    def read(self, name: str, *, max_bytes: int | None = None) -> bytes:
        """The member's content; ExtractionError if missing, damaged or over a limit."""
        stored = self.resolve(name)
        if stored is None:
            raise ExtractionError(_DAMAGED.format(kind=self._kind), code="corrupt")
        info = self._infos[stored]
        limit = min(self._budget, info.file_size)
        if max_bytes is not None:
            limit = min(limit, max_bytes)
        data = read_bounded(self._archive, info, limit=limit, kind=self._kind)
        self._budget -= len(data)
        return data


def read_bounded(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, limit: int, kind: str = "archive"
) -> bytes:
    """Decompress one member, refusing to produce more than `limit` bytes whatever it claims."""
    chunks: list[bytes] = []
    total = 0
    try:
        with archive.open(info) as member:
            while chunk := _read_chunk(member, limit - total):
                total += len(chunk)
                if total > limit:
                    raise ExtractionError(_TOO_BIG.format(kind=kind), code="too_large")
                chunks.append(chunk)
    except _READ_ERRORS as error:
        raise ExtractionError(_DAMAGED.format(kind=kind), code="corrupt") from error
    return b"".join(chunks)


def _read_chunk(member: IO[bytes], remaining: int) -> bytes:
    # One byte more than allowed is asked for, so that overflowing data is noticed, not cut.
    return member.read(min(_CHUNK, max(remaining, 0) + 1))


@contextmanager
def open_zip(path: Path, *, limits: ExtractionLimits, kind: str = "archive") -> Iterator[SafeZip]:
    """Open `path` as a ZIP archive after checking every member against `limits`.

    `kind` ("EPUB", "Word") only shapes the messages a user sees.
    """
    try:
        archive = zipfile.ZipFile(path)
    except _READ_ERRORS as error:
        raise ExtractionError(_DAMAGED.format(kind=kind), code="corrupt") from error
    with archive:
        check_members(archive.infolist(), limits=limits, kind=kind)
        yield SafeZip(archive, limits=limits, kind=kind)


def check_members(infos: list[zipfile.ZipInfo], *, limits: ExtractionLimits, kind: str) -> None:
    """Refuse archives that are bombs, hide paths, or are encrypted, before reading any member."""
    if len(infos) > MAX_MEMBERS:
        raise ExtractionError(_BOMB.format(kind=kind), code="too_large")
    total = 0
    for info in infos:
        if not is_safe_member_name(info.filename):
            raise ExtractionError(_UNSAFE_NAME.format(kind=kind), code="unsafe")
        if info.flag_bits & 0x1:
            raise ExtractionError(_ENCRYPTED.format(kind=kind), code="encrypted")
        if _ratio_too_high(info, limits.max_compression_ratio):
            raise ExtractionError(_BOMB.format(kind=kind), code="too_large")
        total += info.file_size
        if total > limits.max_uncompressed_bytes:
            raise ExtractionError(_TOO_BIG.format(kind=kind), code="too_large")


def _ratio_too_high(info: zipfile.ZipInfo, max_ratio: int) -> bool:
    if info.file_size <= RATIO_GRACE_BYTES:
        return False
    return info.file_size > max_ratio * max(info.compress_size, 1)


def read_limited(path: Path, *, max_bytes: int, kind: str) -> bytes:
    """A whole (unzipped) file's bytes, or ExtractionError if it is larger than `max_bytes`.

    At most `max_bytes + 1` bytes are read, whatever the file's size.
    """
    try:
        with path.open("rb") as stream:
            data = stream.read(max_bytes + 1)
    except OSError as error:
        raise ExtractionError(f"This {kind} could not be read.", code="unreadable") from error
    if len(data) > max_bytes:
        raise ExtractionError(f"This {kind} is larger than we can process.", code="too_large")
    return data
