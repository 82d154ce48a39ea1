"""An M4B audiobook from MP3 files: AAC audio, a chapter per file, title, author and cover.

Pure: paths in, a file and its chapter marks out; no Django. PyAV (the `av` package) carries
FFmpeg's libraries, with the AAC encoder and the MP4 ("ipod") muxer, so no program needs to be
installed. Each MP3 is decoded, resampled to the book's rate (that of the first) and encoded;
a chapter starts where its file's decoded audio begins, counted in samples. The ipod muxer
takes no picture stream, so the cover is written afterwards as the iTunes `covr` tag, by
mutagen (which moves the chunk offsets for the larger index, and keeps the chapters).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from av.audio.stream import AudioStream
    from av.container import OutputContainer

AAC_BITRATE = 64_000  # mono speech, as transparent as the 64 kbit/s MP3s
_MILLISECONDS = Fraction(1, 1000)


class M4BError(Exception):
    """The book could not be written (a file that does not decode, an encoder missing)."""


@dataclass(frozen=True)
class Chapter:
    title: str
    mp3: Path


@dataclass(frozen=True)
class ChapterMark:
    title: str
    start: float  # seconds
    end: float

    def as_dict(self) -> dict[str, str | float]:
        return {"title": self.title, "start": round(self.start, 3), "end": round(self.end, 3)}


def write_m4b(
    path: Path,
    chapters: Sequence[Chapter],
    *,
    title: str,
    author: str = "",
    cover: bytes = b"",
    on_chapter: Callable[[], None] | None = None,
) -> list[ChapterMark]:
    """Write the book to `path`; return where each chapter starts and ends.

    `cover`: a JPEG for the book's artwork, or nothing. `on_chapter` is called after each
    chapter is encoded (a progress display, say).
    """
    import av

    if not chapters:
        raise M4BError("no chapters")
    if "aac" not in av.codecs_available:
        raise M4BError("this PyAV has no AAC encoder")
    marks: list[ChapterMark] = []
    try:
        rate = _sample_rate(chapters[0].mp3)
        # "M4B " tells players it is an audiobook; faststart puts the index first, so that a
        # player can start before it has the whole file.
        options = {"brand": "M4B ", "movflags": "+faststart"}
        with av.open(str(path), "w", format="ipod", options=options) as book:
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
    except av.FFmpegError as exc:
        raise M4BError(f"FFmpeg refused the book ({type(exc).__name__})") from exc
    if cover:
        _add_cover(path, cover)
    return marks


def _add_cover(path: Path, cover: bytes) -> None:
    from mutagen import MutagenError
    from mutagen.mp4 import MP4, MP4Cover

    try:
        book = MP4(str(path))
        if book.tags is None:
            book.add_tags()
        tags = book.tags
        if tags is None:
            raise M4BError("the book takes no tags")
        tags["covr"] = [MP4Cover(cover, imageformat=MP4Cover.FORMAT_JPEG)]
        book.save()
    except MutagenError as exc:
        raise M4BError(f"the cover could not be added ({type(exc).__name__})") from exc


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
    """Encode one file into the book; return the seconds of audio it added."""
    import av

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
