"""The contract every text extractor implements: a file on disk in, pages of Markdown out."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ExtractionLimits:
    """Bounds an extractor must respect; the service fills them from settings."""

    max_pages: int = 2_000
    max_chars: int = 5_000_000
    page_max_chars: int = 20_000
    # Archives (DOCX, EPUB): total uncompressed size and per-member compression ratio.
    max_uncompressed_bytes: int = 256 * MIB
    max_compression_ratio: int = 200
    # The isolated child process that runs the parser.
    memory_limit_bytes: int = 1024 * MIB
    timeout_seconds: float = 300.0
    ocr_enabled: bool = True
    ocr_language: str = "eng"
    # Covers: the longest side of the JPEG kept, and the size of a source image (width times
    # height, as its header declares) above which it is not decoded at all.
    cover_max_side: int = 1400
    cover_max_pixels: int = 40_000_000


@dataclass(frozen=True, slots=True)
class ExtractedPage:
    markdown: str
    title: str = ""
    # A table of contents or other page of links: kept for reading, passed over when listening.
    contents: bool = False


@dataclass(frozen=True, slots=True)
class ExtractionResult:
    pages: list[ExtractedPage]
    title: str = ""
    author: str = ""
    # Remarks a reader should see (e.g. "3 pages had no text layer and OCR is not installed").
    notes: list[str] = field(default_factory=list)
    # A JPEG made by `cover.normalise_cover` (or `cover_from_image`), or b"": no cover.
    cover: bytes = b""
    # The language the source says it is in (HTML lang, EPUB dc:language), as written there;
    # detection from the text has the last word (`language.honour_declared`).
    language: str = ""
    # What the children of a shared extraction said of each page, in order, when they were
    # asked to (`isolation.run_isolated(describer=...)`); None when they were not. From other
    # processes: the describer's caller checks each before it uses it.
    descriptions: list[Any] | None = None


class ExtractionError(Exception):
    """A permanent failure to read a file. `user_message` is a sentence safe to show a user."""

    def __init__(self, user_message: str, *, code: str = "unreadable") -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.code = code


class Extractor(Protocol):
    """One document format. Implementations must be picklable and hold no open resources.

    One may also have `warm_up(self, *, limits) -> None`: work on a document of its own, which a
    fork server's spare child does before it is given a file (`forkserver`), so that the file is
    read as fast as a second one would be.
    """

    name: ClassVar[str]

    def extract(self, path: Path, *, limits: ExtractionLimits) -> ExtractionResult: ...
