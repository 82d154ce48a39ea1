"""One M4B audiobook from the pages' MP3s, with a chapter per page.

The book is written by the service's own writer (speech_processing/m4b.py, PyAV's AAC encoder
and MP4 muxer), under a temporary name renamed when complete. An installation without PyAV (or
without its AAC encoder) is told so before any work starts.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path

from pagecast_cli.files import partial_path
from speech_processing.m4b import Chapter, ChapterMark, M4BError, write_m4b

MISSING_ENCODER = (
    "M4B audiobooks need PyAV (the `av` package) with its AAC encoder, which this installation "
    "lacks; MP3 output works without it."
)


class AudiobookError(Exception):
    """The audiobook cannot be made; the message says why, for the person at the shell."""


ChapterSource = Chapter


def encoder_available() -> bool:
    if importlib.util.find_spec("av") is None:
        return False
    import av

    return "aac" in av.codecs_available


def require_encoder() -> None:
    if not encoder_available():
        raise AudiobookError(MISSING_ENCODER)


def write_audiobook(
    path: Path,
    chapters: Sequence[Chapter],
    *,
    title: str,
    author: str = "",
    cover: bytes = b"",
    on_chapter: Callable[[], None] | None = None,
) -> list[ChapterMark]:
    """Write `path` (under a temporary name, renamed when complete); return its chapters.

    `cover`: the source's cover as extraction found it (JPEG), for the book's artwork."""
    require_encoder()
    if not chapters:
        raise AudiobookError("There are no pages to put in the audiobook.")
    partial = partial_path(path)
    try:
        marks = write_m4b(
            partial, chapters, title=title, author=author, cover=cover, on_chapter=on_chapter
        )
        partial.replace(path)
    except M4BError as exc:
        raise AudiobookError(f"The audiobook could not be written: {exc}.") from exc
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    return marks
