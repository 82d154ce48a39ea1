"""The deterministic test engine."""

from __future__ import annotations

import pytest

from speech_processing.engines.base import (
    PermanentEngineError,
    SpeechEngine,
    TransientEngineError,
)
from speech_processing.engines.fake import PERMANENT_MARKER, TRANSIENT_MARKER, FakeEngine


def test_implements_the_protocol() -> None:
    assert isinstance(FakeEngine(), SpeechEngine)


def test_voices() -> None:
    voices = FakeEngine().voices()
    assert [v.id for v in voices] == ["fake:alpha", "fake:beta"]
    assert {v.engine for v in voices} == {"fake"}
    assert all(v.language and v.gender for v in voices)


def test_same_text_same_audio_and_different_text_different_audio() -> None:
    engine = FakeEngine()
    first = engine.synthesize("Hello there.", voice="alpha")
    again = FakeEngine().synthesize("Hello there.", voice="alpha")
    other = engine.synthesize("Hello where.", voice="alpha")
    assert first == again
    assert first.pcm != other.pcm
    assert first.pcm != engine.synthesize("Hello there.", voice="beta").pcm


def test_duration_is_proportional_to_text_and_clamped() -> None:
    engine = FakeEngine(ms_per_char=60, min_ms=50, max_ms=1000)
    assert engine.synthesize("x" * 10, voice="alpha").num_samples == 16000 * 600 // 1000
    assert engine.synthesize("x", voice="alpha").duration_seconds == pytest.approx(0.06)
    assert engine.synthesize("x" * 100, voice="alpha").duration_seconds == pytest.approx(1.0)
    assert engine.synthesize("   ", voice="alpha").num_samples == 0
    assert FakeEngine(min_ms=200).synthesize("x", voice="alpha").duration_seconds == 0.2


def test_audio_is_a_non_silent_16_bit_tone() -> None:
    piece = FakeEngine(sample_rate=22050).synthesize("Some words.", voice="alpha")
    assert piece.sample_rate == 22050
    assert len(piece.pcm) == 2 * piece.num_samples
    assert max(piece.pcm) > 0


def test_markers_raise_each_time() -> None:
    engine = FakeEngine()
    for _ in range(2):
        with pytest.raises(TransientEngineError) as transient:
            engine.synthesize(f"Hello {TRANSIENT_MARKER}.", voice="alpha")
        assert transient.value.transient
        with pytest.raises(PermanentEngineError) as permanent:
            engine.synthesize(f"Hello {PERMANENT_MARKER}.", voice="alpha")
        assert not permanent.value.transient


def test_fail_transient_times_then_succeed() -> None:
    engine = FakeEngine(fail_transient_times=2)
    for _ in range(2):
        with pytest.raises(TransientEngineError):
            engine.synthesize("Hello.", voice="alpha")
    assert engine.synthesize("Hello.", voice="alpha").num_samples
    assert len(engine.calls) == 3


def test_fail_permanently() -> None:
    with pytest.raises(PermanentEngineError) as caught:
        FakeEngine(fail_permanently=True).synthesize("Hello.", voice="alpha")
    assert caught.value.user_message


def test_unknown_voice_and_overlong_text_are_permanent() -> None:
    engine = FakeEngine(max_chunk_chars=10)
    with pytest.raises(PermanentEngineError) as caught:
        engine.synthesize("Hello.", voice="gamma")
    assert caught.value.user_message == "This voice is not available."
    with pytest.raises(PermanentEngineError):
        engine.synthesize("x" * 11, voice="alpha")
