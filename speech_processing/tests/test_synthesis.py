"""The synthesis pipeline with the fake engine, and once end to end with Piper."""

from __future__ import annotations

import itertools
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speech_processing.engines.base import (
    AudioPiece,
    PermanentEngineError,
    TransientEngineError,
    Voice,
)
from speech_processing.engines.fake import PERMANENT_MARKER, FakeEngine
from speech_processing.engines.piper import PiperEngine
from speech_processing.synthesis import (
    NoSpeakableText,
    PauseOptions,
    SynthesisOutput,
    iter_synthesis,
    synthesize_text,
)
from speech_processing.text import normalize_for_speech, split_sentences

TEXT = (
    "Dr. Smith measured 3.14 units, e.g. twice. Was it enough... or not?\n\n"
    '"Really?" she asked. See https://example.com/x for more & better results!\n\n'
    "The end."
)
NO_PAUSES = PauseOptions(sentence=0, paragraph=0, clause=0)


def assert_timings_tile(output: SynthesisOutput) -> None:
    timings = output.sentences
    assert timings
    assert timings[0].start == 0.0
    assert timings[-1].end == pytest.approx(output.duration_seconds)
    for before, after in itertools.pairwise(timings):
        assert before.end == after.start
        assert before.char_end <= after.char_start
    assert all(t.start <= t.end for t in timings)


def assert_ranges_are_sentences(output: SynthesisOutput) -> None:
    expected = [s.text for s in split_sentences(output.text)]
    assert [output.text[t.char_start : t.char_end] for t in output.sentences] == expected


def test_sentence_by_sentence_timings_are_exact() -> None:
    engine = FakeEngine(ms_per_char=10, min_ms=0)
    output = synthesize_text(TEXT, engine=engine, voice="alpha", pauses=NO_PAUSES)
    assert output.text == normalize_for_speech(TEXT)
    assert_timings_tile(output)
    assert_ranges_are_sentences(output)
    # One call per sentence, and each sentence lasts exactly what the engine returned for it.
    assert [text for _, text in engine.calls] == [s.text for s in split_sentences(output.text)]
    for timing in output.sentences:
        characters = timing.char_end - timing.char_start
        assert timing.end - timing.start == pytest.approx(characters * 0.010)
    assert output.sample_rate == 16000
    assert output.num_samples == round(output.duration_seconds * 16000)
    assert output.mp3[:2] == b"\xff\xf3"


def test_pauses_are_added_between_sentences_and_paragraphs() -> None:
    engine = FakeEngine(ms_per_char=10, min_ms=0)
    plain = synthesize_text(TEXT, engine=engine, voice="alpha", pauses=NO_PAUSES)
    paused = synthesize_text(
        TEXT, engine=engine, voice="alpha", pauses=PauseOptions(sentence=0.25, paragraph=1.0)
    )
    # 5 sentences in 3 paragraphs: 2 sentence gaps, 2 paragraph gaps, nothing after the last.
    assert len(paused.sentences) == 5
    assert paused.duration_seconds == pytest.approx(plain.duration_seconds + 2 * 0.25 + 2 * 1.0)
    assert_timings_tile(paused)
    assert_ranges_are_sentences(paused)


def test_packed_chunks_share_time_by_characters() -> None:
    engine = FakeEngine(ms_per_char=10, min_ms=0, chunk_by_sentence=False, max_chunk_chars=80)
    output = synthesize_text(TEXT, engine=engine, voice="alpha", pauses=NO_PAUSES)
    assert len(engine.calls) < len(output.sentences)
    assert any(". " in text for _, text in engine.calls)  # several sentences in one call
    assert_timings_tile(output)
    assert_ranges_are_sentences(output)
    # The fake's audio is proportional to characters, so the shares come out nearly exact
    # (the joining spaces in a chunk are the only difference).
    for timing in output.sentences:
        characters = timing.char_end - timing.char_start
        assert timing.end - timing.start == pytest.approx(characters * 0.010, abs=0.03)


def test_overlong_sentence_is_split_but_timed_as_one() -> None:
    sentence = "This sentence is long, and it goes on, and on, and on, until it stops."
    engine = FakeEngine(ms_per_char=10, min_ms=0, max_chunk_chars=20)
    output = synthesize_text(f"Short one. {sentence}", engine=engine, voice="alpha")
    assert len(engine.calls) > 2
    assert all(len(text) <= 20 for _, text in engine.calls)
    assert [output.text[t.char_start : t.char_end] for t in output.sentences] == [
        "Short one.",
        sentence,
    ]
    assert_timings_tile(output)


def test_streaming_yields_audio_after_the_first_chunk() -> None:
    engine = FakeEngine()
    parts = iter_synthesis(TEXT, engine=engine, voice="alpha")
    assert engine.calls == []  # nothing is synthesised until asked
    first = next(parts)
    assert len(engine.calls) == 1
    assert first.mp3[:2] == b"\xff\xf3"
    assert [first.sentences[0].char_start, first.sentences[0].char_end] == [0, 42]
    rest = list(parts)
    assert rest[-1].sentences == ()  # the encoder's flush
    streamed = first.mp3 + b"".join(part.mp3 for part in rest)
    assert streamed == synthesize_text(TEXT, engine=FakeEngine(), voice="alpha").mp3


@pytest.mark.parametrize("text", ["", "   ", "😀 🎉", "<speak><break time='3s'/></speak>", "..."])
def test_no_speakable_text_is_raised_before_any_call(text: str) -> None:
    engine = FakeEngine()
    with pytest.raises(NoSpeakableText):
        iter_synthesis(text, engine=engine, voice="alpha")
    with pytest.raises(NoSpeakableText):
        synthesize_text(text, engine=engine, voice="alpha")
    assert engine.calls == []


def test_engine_errors_pass_through() -> None:
    with pytest.raises(TransientEngineError):
        synthesize_text(TEXT, engine=FakeEngine(fail_transient_times=1), voice="alpha")
    with pytest.raises(PermanentEngineError):
        synthesize_text(f"Fine. {PERMANENT_MARKER} here.", engine=FakeEngine(), voice="alpha")


class OddEngine:
    """Returns audio at a rate that changes between calls, or no audio at all."""

    name: ClassVar[str] = "odd"
    max_chunk_chars = 100
    chunk_by_sentence = True

    def __init__(self, rates: list[int], samples: int = 1600) -> None:
        self.rates = rates
        self.samples = samples

    def voices(self) -> list[Voice]:
        return []

    def synthesize(self, text: str, *, voice: str) -> AudioPiece:
        return AudioPiece(pcm=bytes(2 * self.samples), sample_rate=self.rates.pop(0))


def test_a_changing_sample_rate_is_refused() -> None:
    with pytest.raises(PermanentEngineError):
        synthesize_text("One. Two.", engine=OddEngine([16000, 22050]), voice="x")


def test_no_audio_at_all_is_an_engine_failure() -> None:
    with pytest.raises(PermanentEngineError):
        synthesize_text("One. Two.", engine=OddEngine([16000, 16000], samples=0), voice="x")


def test_timings_as_dicts() -> None:
    output = synthesize_text("One. Two.", engine=FakeEngine(), voice="alpha")
    assert output.timings() == [
        {"start": 0.0, "end": 0.34, "char_start": 0, "char_end": 4},
        {"start": 0.34, "end": 0.58, "char_start": 5, "char_end": 9},
    ]


_words = st.sampled_from(["Dr.", "word", "3.14", "e.g.", "Yes!", "no?", "...", "—", "\n\n", "x"])


@settings(max_examples=60, deadline=None, database=None)
@given(
    words=st.lists(_words, min_size=1, max_size=60),
    by_sentence=st.booleans(),
    max_chars=st.integers(5, 80),
)
def test_timings_always_tile_and_map_to_sentences(
    words: list[str], by_sentence: bool, max_chars: int
) -> None:
    text = " ".join(words)
    engine = FakeEngine(
        ms_per_char=5, min_ms=0, chunk_by_sentence=by_sentence, max_chunk_chars=max_chars
    )
    try:
        output = synthesize_text(text, engine=engine, voice="beta")
    except NoSpeakableText:
        assert not split_sentences(normalize_for_speech(text))
        return
    assert_timings_tile(output)
    assert_ranges_are_sentences(output)


def test_piper_end_to_end() -> None:
    output = synthesize_text(
        "Hello there. This is Pagecast, reading a page aloud.",
        engine=PiperEngine(threads=2),
        voice="en_US-joe-medium",
        language="en-US",
    )
    assert output.sample_rate == 22050
    assert 1.5 < output.duration_seconds < 8
    assert len(output.sentences) == 2
    assert_timings_tile(output)
    assert_ranges_are_sentences(output)
    assert output.mp3[:2] in (b"\xff\xf3", b"\xff\xf2")
