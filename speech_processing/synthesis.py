"""The synthesis pipeline: text → normalised sentences → chunks → engine → PCM → MP3.

Pure: no Django, no storage, no retries (the task layer retries ``TransientEngineError``).

Sentence timings come from PCM sample counts. When an engine is called once per sentence
(Piper, espeak-ng) they are exact. When several sentences share a call (Polly, OpenAI), the
chunk's audio is shared out over its sentences in proportion to their character counts, which
is close for prose and never drifts beyond the chunk, unless the engine reports where its
sentences start (Polly's speech marks): sentence starts are then read off those marks,
exactly where they fall on a sentence of ours, and between the nearest two where they do not.
The pause after a sentence belongs to that sentence, so the spans tile the audio: each starts
where the previous one ends, the first at 0 and the last at the end.

Sentence character offsets index the text that was passed in (the page as stored), not the
normalised text the engine read, so a player can highlight the sentence being spoken in the page
and seek by clicking one. A sentence's range covers everything it was made from: a URL read as
"a link to example.com", an emoji or a tag dropped inside it.

``iter_synthesis`` yields MP3 bytes chunk by chunk so a caller can stream while synthesising;
``synthesize_text`` collects the same parts into one result.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from speech_processing.encoding import EncoderOptions, Mp3Encoder
from speech_processing.engines.base import (
    MSG_BAD_AUDIO,
    MSG_FAILED,
    MSG_NO_SPEECH,
    PCM_SAMPLE_WIDTH,
    AudioPiece,
    PermanentEngineError,
    SpeechEngine,
    SpeechMark,
)
from speech_processing.text import (
    Chunk,
    Sentence,
    normalize_for_speech_with_sources,
    pack_chunks,
    split_sentences,
)

logger = logging.getLogger(__name__)

# Remote engines pack sentences into large chunks; the first chunk is kept short so the first
# audio arrives after about one sentence rather than after 3000 characters.
FIRST_CHUNK_CHARS = 300

# Audio for a text holds no speech when it is shorter than a tenth of the text read at 25
# letters a second, faster than anyone speaks (about 15): a speech service answering with a
# blip of silence, not a fast voice. Texts under 20 letters ("Hi.") are not judged.
FASTEST_LETTERS_PER_SECOND = 25.0
LEAST_SHARE_OF_SPOKEN = 0.1
MIN_JUDGED_LETTERS = 20


class NoSpeakableText(ValueError):
    """The text holds nothing to read aloud (empty, whitespace, symbols or markup only)."""

    user_message = "This page has no text that can be read aloud."


@dataclass(frozen=True)
class PauseOptions:
    """Silence inserted between engine calls, in seconds (never after the last one)."""

    # Piper leaves about 0.17 s of silence around each sentence; a little more reads like a
    # person pausing between sentences, and clearly more marks a new paragraph.
    sentence: float = 0.1
    paragraph: float = 0.5
    # Between the pieces of one overlong sentence (cut at a clause): a breath, not a stop.
    clause: float = 0.05


@dataclass(frozen=True)
class SentenceTiming:
    start: float  # seconds
    end: float
    char_start: int  # offsets into the original text (the one passed in), trimmed
    char_end: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "char_start": self.char_start,
            "char_end": self.char_end,
        }


@dataclass(frozen=True)
class SynthesisPlan:
    text: str  # normalised; the offsets of sentences and chunks index into it
    sentences: list[Sentence]
    chunks: list[Chunk]
    # Per sentence, its [start, end) in the original text: ordered and never overlapping.
    source_spans: list[tuple[int, int]]


@dataclass(frozen=True)
class SynthesisPart:
    """What one step of ``iter_synthesis`` produced."""

    mp3: bytes  # may be b"" (LAME buffers); the final part holds the encoder's flush
    sentences: tuple[SentenceTiming, ...]  # sentences completed by this step
    duration_seconds: float  # audio produced so far
    sample_rate: int


@dataclass(frozen=True)
class SynthesisOutput:
    mp3: bytes
    duration_seconds: float
    sample_rate: int
    num_samples: int
    text: str  # the normalised text that was spoken (sentence offsets index the original)
    sentences: list[SentenceTiming] = field(default_factory=list)
    source_digest: str = ""  # SHA-256 of the original text, which sentence offsets index

    def timings(self) -> list[dict[str, float | int]]:
        return [sentence.as_dict() for sentence in self.sentences]


def plan_synthesis(
    text: str, *, language: str, max_chunk_chars: int, chunk_by_sentence: bool
) -> SynthesisPlan:
    """Normalise, split and pack; raise ``NoSpeakableText`` when nothing is left to say."""
    mapped = normalize_for_speech_with_sources(text, language=language)
    sentences = split_sentences(mapped.text, language=language)
    if not sentences:
        raise NoSpeakableText("no speakable text")
    chunks = pack_chunks(
        sentences,
        max_chars=max_chunk_chars,
        first_chunk_max_chars=None if chunk_by_sentence else FIRST_CHUNK_CHARS,
        one_sentence_per_chunk=chunk_by_sentence,
    )
    source_spans = mapped.source_spans((s.char_start, s.char_end) for s in sentences)
    return SynthesisPlan(
        text=mapped.text, sentences=sentences, chunks=chunks, source_spans=source_spans
    )


def iter_synthesis(
    text: str,
    *,
    engine: SpeechEngine,
    voice: str,
    language: str = "en",
    encoder_options: EncoderOptions | None = None,
    pauses: PauseOptions | None = None,
) -> Iterator[SynthesisPart]:
    """Synthesise ``text`` chunk by chunk, yielding MP3 bytes and finished sentence timings.

    Planning happens in this call, so ``NoSpeakableText`` is raised at once rather than on the
    first ``next()``; engine errors surface while iterating.
    """
    run = _Run.start(text, engine=engine, language=language, options=(encoder_options, pauses))
    return run.parts(engine, voice)


def synthesize_text(
    text: str,
    *,
    engine: SpeechEngine,
    voice: str,
    language: str = "en",
    encoder_options: EncoderOptions | None = None,
    pauses: PauseOptions | None = None,
    on_part: Callable[[SynthesisPart], None] | None = None,
) -> SynthesisOutput:
    """Synthesise ``text`` to one MP3 with sentence timings.

    ``on_part`` sees each step's MP3 bytes and finished sentences as they are made (to stream
    them while the rest is synthesised); the MP3 returned is exactly those bytes, in order.
    """
    run = _Run.start(text, engine=engine, language=language, options=(encoder_options, pauses))
    mp3: list[bytes] = []
    sentences: list[SentenceTiming] = []
    for part in run.parts(engine, voice):
        mp3.append(part.mp3)
        sentences.extend(part.sentences)
        if on_part is not None:
            on_part(part)
    return SynthesisOutput(
        mp3=b"".join(mp3),
        duration_seconds=run.samples / run.sample_rate,
        sample_rate=run.sample_rate,
        num_samples=run.samples,
        text=run.plan.text,
        sentences=sentences,
        source_digest=text_digest(text),
    )


def check_speech(text: str, piece: AudioPiece, *, engine: str, voice: str) -> None:
    """Refuse audio far too short to hold `text` read aloud.

    Permanent: a service that answers a sentence with silence does so again when asked again,
    and every attempt is billed. The details are logged under an error id (without the text).
    """
    letters = sum(1 for char in text if char.isalnum())
    if letters < MIN_JUDGED_LETTERS:
        return
    least = LEAST_SHARE_OF_SPOKEN * letters / FASTEST_LETTERS_PER_SECOND
    seconds = piece.duration_seconds
    if seconds >= least:
        return
    error_id = uuid.uuid4().hex
    logger.error(
        "The speech service returned no speech (error %s): engine %s, voice %s, "
        "%d characters, %.3f s of audio (at least %.2f s expected)",
        error_id, engine, voice, len(text), seconds, least,
        extra={"error_id": error_id},
    )  # fmt: skip
    raise PermanentEngineError(
        f"{engine}: {seconds:.3f} s of audio for {len(text)} characters",
        user_message=MSG_NO_SPEECH,
        code="no_speech",
        error_id=error_id,
    )


def text_digest(text: str) -> str:
    """SHA-256 of a text, as stored beside timings whose offsets index it."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class _Run:
    """One synthesis: engine calls, the encoder and the sample clock for the timings."""

    def __init__(
        self, plan: SynthesisPlan, encoder_options: EncoderOptions, pauses: PauseOptions
    ) -> None:
        self.plan = plan
        self.encoder_options = encoder_options
        self.pauses = pauses
        self.samples = 0
        self.sample_rate = 0  # set by the first non-empty piece
        self.encoder: Mp3Encoder | None = None
        self._sentence_starts: dict[int, int] = {}

    @classmethod
    def start(
        cls,
        text: str,
        *,
        engine: SpeechEngine,
        language: str,
        options: tuple[EncoderOptions | None, PauseOptions | None],
    ) -> _Run:
        plan = plan_synthesis(
            text,
            language=language,
            max_chunk_chars=engine.max_chunk_chars,
            chunk_by_sentence=engine.chunk_by_sentence,
        )
        encoder_options, pauses = options
        return cls(plan, encoder_options or EncoderOptions(), pauses or PauseOptions())

    def parts(self, engine: SpeechEngine, voice: str) -> Iterator[SynthesisPart]:
        last = len(self.plan.chunks) - 1
        for number, chunk in enumerate(self.plan.chunks):
            piece = engine.synthesize(chunk.text, voice=voice)
            check_speech(chunk.text, piece, engine=engine.name, voice=voice)
            yield self._add(chunk, piece, is_last=number == last)
        if self.encoder is None or not self.samples:
            raise PermanentEngineError("engine returned no audio", user_message=MSG_FAILED)
        yield SynthesisPart(
            mp3=self.encoder.flush(),
            sentences=(),
            duration_seconds=self.samples / self.sample_rate,
            sample_rate=self.sample_rate,
        )

    def _add(self, chunk: Chunk, piece: AudioPiece, *, is_last: bool) -> SynthesisPart:
        mp3 = b""
        pause = 0
        if piece.num_samples:
            encoder = self._encoder_for(piece.sample_rate)
            pause = 0 if is_last else self._pause_samples(chunk)
            mp3 = encoder.encode(piece.pcm + bytes(pause * PCM_SAMPLE_WIDTH))  # pause: silence
        finished = self._time_sentences(chunk, piece.num_samples, pause, piece.marks)
        return SynthesisPart(
            mp3=mp3,
            sentences=finished,
            duration_seconds=self._seconds(self.samples),
            sample_rate=self.sample_rate,
        )

    def _encoder_for(self, sample_rate: int) -> Mp3Encoder:
        if self.encoder is None:
            self.sample_rate = sample_rate
            self.encoder = Mp3Encoder(sample_rate, self.encoder_options)
        elif sample_rate != self.sample_rate:
            # One voice, one rate: a change mid-page means a misbehaving engine.
            raise PermanentEngineError("engine changed sample rate", user_message=MSG_BAD_AUDIO)
        return self.encoder

    def _pause_samples(self, chunk: Chunk) -> int:
        last = self.plan.sentences[chunk.sentence_indices[-1]]
        if chunk.char_end < last.char_end:
            seconds = self.pauses.clause  # a piece of a sentence that goes on
        elif last.ends_paragraph:
            seconds = self.pauses.paragraph
        else:
            seconds = self.pauses.sentence
        return round(seconds * self.sample_rate)

    def _time_sentences(
        self, chunk: Chunk, num_samples: int, pause: int, marks: Sequence[SpeechMark] = ()
    ) -> tuple[SentenceTiming, ...]:
        """Share the chunk's samples out (by the engine's marks, else by characters); return the
        sentences it completes."""
        start = self.samples
        weights = _overlaps(chunk, self.plan.sentences)
        total = sum(weights) or 1
        boundaries = [num_samples * sum(weights[:k]) // total for k in range(len(weights) + 1)]
        clock = None
        if marks and len(chunk.sentence_indices) > 1:
            clock = _mark_clock(marks, len(chunk.text), num_samples, self.sample_rate)
        if clock is not None:
            boundaries = [clock(offset) for offset in _offsets_in_chunk(chunk, self.plan.sentences)]
        finished = []
        for position, index in enumerate(chunk.sentence_indices):
            self._sentence_starts.setdefault(index, start + boundaries[position])
            sentence = self.plan.sentences[index]
            if chunk.char_end >= sentence.char_end:  # this chunk holds the sentence's end
                end = start + boundaries[position + 1]
                if index == chunk.sentence_indices[-1]:
                    end = start + num_samples + pause
                finished.append(self._timing(index, end))
        self.samples = start + num_samples + pause
        return tuple(finished)

    def _timing(self, index: int, end: int) -> SentenceTiming:
        char_start, char_end = self.plan.source_spans[index]
        return SentenceTiming(
            start=self._seconds(self._sentence_starts.pop(index)),
            end=self._seconds(end),
            char_start=char_start,
            char_end=char_end,
        )

    def _seconds(self, samples: int) -> float:
        return samples / self.sample_rate if self.sample_rate else 0.0


def _overlaps(chunk: Chunk, sentences: Sequence[Sentence]) -> list[int]:
    """Characters of each of the chunk's sentences that fall inside the chunk."""
    return [
        max(
            0,
            min(sentences[i].char_end, chunk.char_end)
            - max(sentences[i].char_start, chunk.char_start),
        )
        for i in chunk.sentence_indices
    ]


def _offsets_in_chunk(chunk: Chunk, sentences: Sequence[Sentence]) -> list[int]:
    """Where each sentence of a chunk of whole sentences starts in its text (joined by a space),
    and the text's end."""
    offsets = [0]
    for index in chunk.sentence_indices:
        offsets.append(offsets[-1] + len(sentences[index].text) + 1)
    offsets[-1] = len(chunk.text)
    return offsets


def _mark_clock(
    marks: Sequence[SpeechMark], length: int, num_samples: int, sample_rate: int
) -> Callable[[int], int] | None:
    """The sample at which a character offset of a chunk's text is spoken, by the engine's marks:
    on a mark exactly, and in proportion between the two around it (the chunk's start and end
    count as marks). Marks out of order or outside the audio are ignored; None when no mark
    inside the chunk is left."""
    anchors = [(0, 0)]
    for mark in marks:
        sample = round(mark.seconds * sample_rate)
        if anchors[-1][0] < mark.char < length and anchors[-1][1] <= sample <= num_samples:
            anchors.append((mark.char, sample))
    if len(anchors) == 1:
        return None
    anchors.append((max(length, anchors[-1][0] + 1), num_samples))
    chars = [char for char, _ in anchors]

    def clock(offset: int) -> int:
        at = min(max(bisect.bisect_right(chars, offset) - 1, 0), len(anchors) - 2)
        (char_0, sample_0), (char_1, sample_1) = anchors[at], anchors[at + 1]
        share = min(max(offset - char_0, 0), char_1 - char_0)
        return sample_0 + (sample_1 - sample_0) * share // (char_1 - char_0)

    return clock
