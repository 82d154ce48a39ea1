"""One M4B audiobook from the pages' MP3s: AAC audio with a chapter per page.

M4B is an MPEG-4 file with AAC audio. The service makes MP3 with LAME and has no AAC encoder,
and the ffmpeg program is not something every machine has; PyAV (the `av` package) carries
FFmpeg's libraries in its wheels, so the book is made in this process: each page's MP3 is
decoded, resampled to one rate and encoded to AAC, and each chapter starts where its page's
decoded audio begins. PyAV is imported only when a book is made (its libraries are large), and
an installation without it (or without its AAC encoder) is told so before any work starts.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from pagecast_cli.files import partial_path

if TYPE_CHECKING:
    from av.audio.stream import AudioStream
    from av.container import OutputContainer

MISSING_ENCODER = (
    "M4B audiobooks need PyAV (the `av` package) with its AAC encoder, which this installation "
    "lacks; MP3 output works without it."
)
# Speech in mono AAC: 64 kbit/s is transparent for a voice, as for the MP3s.
AAC_BITRATE = 64_000
_MILLISECONDS = Fraction(1, 1000)


class AudiobookError(Exception):
    """The audiobook cannot be made; the message says why, for the person at the shell."""


@dataclass(frozen=True)
class ChapterSource:
    title: str
    mp3: Path


@dataclass(frozen=True)
class ChapterMark:
    title: str
    start: float  # seconds
    end: float


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
    chapters: Sequence[ChapterSource],
    *,
    title: str,
    author: str = "",
    on_chapter: Callable[[], None] | None = None,
) -> list[ChapterMark]:
    """Write `path` (under a temporary name, renamed when complete); return its chapters."""
    require_encoder()
    import av

    if not chapters:
        raise AudiobookError("There are no pages to put in the audiobook.")
    partial = partial_path(path)
    marks: list[ChapterMark] = []
    try:
        rate = _sample_rate(chapters[0].mp3)
        # `brand`: players tell an audiobook from music by it; `faststart`: the index first,
        # so a player can start before it has read the whole file.
        options = {"brand": "M4B ", "movflags": "+faststart"}
        with av.open(str(partial), "w", format="ipod", options=options) as book:
            book.metadata.update(_metadata(title, author))
            stream = book.add_stream("aac", rate=rate, layout="mono")
            stream.bit_rate = AAC_BITRATE
            position = 0.0
            for chapter in chapters:
                seconds = _append(book, stream, chapter.mp3, rate)
                marks.append(ChapterMark(chapter.title, position, position + seconds))
                position += seconds
                if on_chapter is not None:
                    on_chapter()
            for packet in stream.encode(None):
                book.mux(packet)
            book.set_chapters(
                [
                    {
                        "id": number,
                        "start": round(mark.start * 1000),
                        "end": round(mark.end * 1000),
                        "time_base": _MILLISECONDS,
                        "metadata": {"title": mark.title},
                    }
                    for number, mark in enumerate(marks, start=1)
                ]
            )
        partial.replace(path)
    except av.FFmpegError as exc:
        raise AudiobookError(f"The audiobook could not be written: {exc.strerror}.") from exc
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    return marks


def _metadata(title: str, author: str) -> dict[str, str]:
    data = {"title": title, "album": title, "genre": "Audiobook"}
    if author:
        data |= {"artist": author, "album_artist": author}
    return data


def _sample_rate(mp3: Path) -> int:
    import av

    with av.open(str(mp3)) as source:
        return int(source.streams.audio[0].rate)


def _append(book: OutputContainer, stream: AudioStream, mp3: Path, rate: int) -> float:
    """Encode one page into the book; return the seconds of audio it added."""
    import av

    # Pages spoken by different voices may differ in rate: each is resampled to the book's.
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
    samples = 0
    with av.open(str(mp3)) as source:
        for frame in itertools.chain(source.decode(audio=0), [None]):
            for resampled in resampler.resample(frame):
                samples += resampled.samples
                resampled.pts = None
                for packet in stream.encode(resampled):
                    book.mux(packet)
    return samples / rate
