"""The Piper engine with the bundled joe voice (loaded once per process)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from speech_processing.engines.base import PermanentEngineError, SpeechEngine
from speech_processing.engines.piper import PiperEngine, bundled_voice_dirs

JOE = "en_US-joe-medium"


@pytest.fixture(scope="module")
def engine() -> PiperEngine:
    return PiperEngine(threads=2)


def test_implements_the_protocol(engine: PiperEngine) -> None:
    assert isinstance(engine, SpeechEngine)
    assert engine.chunk_by_sentence


def test_lists_the_bundled_voice(engine: PiperEngine) -> None:
    voices = {voice.name: voice for voice in engine.voices()}
    joe = voices[JOE]
    assert joe.id == f"piper:{JOE}"
    assert joe.engine == "piper"
    assert joe.language == "en-US"
    assert joe.gender == "male"
    assert "joe" in joe.description


def test_synthesizes_non_silent_speech_of_plausible_length(engine: PiperEngine) -> None:
    piece = engine.synthesize("Hello world.", voice=JOE)
    assert piece.sample_rate == 22050
    assert 0.4 < piece.duration_seconds < 3.0
    samples = np.frombuffer(piece.pcm, dtype="<i2").astype(np.float64)
    assert np.abs(samples).max() > 5000
    assert np.sqrt(np.mean(samples**2)) > 300


def test_voice_is_loaded_once_and_shared(engine: PiperEngine) -> None:
    first = engine.load(JOE)
    assert engine.load(JOE) is first
    assert PiperEngine(threads=2).load(JOE) is first


def test_thread_count_reaches_the_onnx_session(engine: PiperEngine) -> None:
    options = engine.load(JOE).session.get_session_options()
    assert options.intra_op_num_threads == 2
    assert options.inter_op_num_threads == 1
    one_thread = PiperEngine(threads=1).load(JOE)
    assert one_thread is not engine.load(JOE)
    assert one_thread.session.get_session_options().intra_op_num_threads == 1


def test_voices_dir_is_discovered(engine: PiperEngine, tmp_path: Path) -> None:
    bundled = bundled_voice_dirs()[0]
    os.symlink(bundled / f"{JOE}.onnx", tmp_path / "en_GB-linked-medium.onnx")
    os.symlink(bundled / f"{JOE}.onnx.json", tmp_path / "en_GB-linked-medium.onnx.json")
    (tmp_path / "no-config.onnx").write_bytes(b"")  # needs its .onnx.json: ignored
    (tmp_path / "readme.txt").write_text("not a voice")
    with_dir = PiperEngine(voices_dir=tmp_path, threads=2)
    names = [voice.name for voice in with_dir.voices()]
    assert names == [JOE, "en_GB-linked-medium"]
    # Same files behind the link, so the loaded model is shared rather than loaded again.
    assert with_dir.load("en_GB-linked-medium") is engine.load(JOE)


def test_voice_added_later_is_found_on_demand(tmp_path: Path) -> None:
    engine = PiperEngine(voices_dir=tmp_path, include_bundled=False)
    assert engine.voices() == []
    bundled = bundled_voice_dirs()[0]
    os.symlink(bundled / f"{JOE}.onnx", tmp_path / "late.onnx")
    os.symlink(bundled / f"{JOE}.onnx.json", tmp_path / "late.onnx.json")
    assert engine.synthesize("Hi.", voice="late").num_samples > 0


def test_missing_voices_dir_leaves_the_bundled_voices(tmp_path: Path) -> None:
    engine = PiperEngine(voices_dir=tmp_path / "missing")
    assert [voice.name for voice in engine.voices()] == [JOE]


@pytest.mark.parametrize("voice", ["nope", "../../etc/passwd", f"{JOE}.onnx", ""])
def test_unknown_voices_are_permanent_errors(engine: PiperEngine, voice: str) -> None:
    with pytest.raises(PermanentEngineError) as caught:
        engine.synthesize("Hello.", voice=voice)
    assert caught.value.user_message == "This voice is not available."
