"""espeak-ng: a stand-in binary checks how we call it; the real one runs when installed."""

from __future__ import annotations

import json
import shutil
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

from speech_processing.engines.base import (
    PermanentEngineError,
    SpeechEngine,
    TransientEngineError,
)
from speech_processing.engines.espeak import EspeakEngine, parse_voice_list

VOICE_LIST = """\
Pty Language       Age/Gender VoiceName          File                 Other Languages
 5  af              --/M      Afrikaans          gmw/af
 2  en-gb           --/M      English_(Great_Britain) gmw/en          (en 2)
 2  en-us           --/F      English_(America)  gmw/en-US            (en 3)
 5  yue             --/M      Chinese_(Cantonese) sit/yue             (zh-yue 5)(zh 8)
 5  en-us           --/M      Duplicate          gmw/en-US-dup
 5  -w              --/M      Hostile            x/y
"""

# A stand-in for espeak-ng: lists voices, logs argv and stdin, and answers with a WAV whose
# size fields say 0xFFFFFFFF, as the real one does when writing to a pipe.
FAKE_ESPEAK = """\
import json, os, struct, sys, time
args = sys.argv[1:]
if args == ["--voices"]:
    sys.stdout.write(VOICE_LIST)
    sys.exit(0)
text = sys.stdin.buffer.read()
with open(os.environ["FAKE_ESPEAK_LOG"], "a") as log:
    log.write(json.dumps({"argv": args, "stdin": text.decode("utf-8")}) + "\\n")
if b"CRASH" in text:
    sys.exit(3)
if b"SLEEP" in text:
    time.sleep(10)
pcm = struct.pack("<h", 1000) * (len(text) * 100)
header = b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE"
fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 22050, 44100, 2, 16)
sys.stdout.buffer.write(header + fmt + b"data" + struct.pack("<I", 0xFFFFFFFF) + pcm)
"""


@pytest.fixture
def fake_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "espeak-ng"
    body = FAKE_ESPEAK.replace("VOICE_LIST", repr(VOICE_LIST))
    script.write_text(f"#!{sys.executable}\n{body}")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("FAKE_ESPEAK_LOG", str(tmp_path / "calls.jsonl"))
    return script


def calls(fake_binary: Path) -> list[dict]:
    log = fake_binary.parent / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_parse_voice_list() -> None:
    voices = parse_voice_list(VOICE_LIST)
    assert [v.name for v in voices] == ["af", "en-gb", "en-us", "yue"]
    by_name = {v.name: v for v in voices}
    assert by_name["en-us"].id == "espeak:en-us"
    assert by_name["en-us"].language == "en-US"
    assert by_name["en-us"].gender == "female"
    assert by_name["en-gb"].gender == "male"
    assert by_name["en-gb"].description == "espeak-ng English (Great Britain)"


def test_missing_binary_means_no_voices() -> None:
    engine = EspeakEngine(binary="/nonexistent/espeak-ng")
    assert engine.executable is None
    assert engine.voices() == []
    with pytest.raises(PermanentEngineError):
        engine.synthesize("Hello.", voice="en-us")


def test_text_goes_on_stdin_as_plain_text(fake_binary: Path) -> None:
    engine = EspeakEngine(binary=str(fake_binary), words_per_minute=160)
    assert isinstance(engine, SpeechEngine)
    text = "<speak>-w /tmp/x</speak> Hello; rm -rf / & ünïcode"
    piece = engine.synthesize(text, voice="en-us")
    assert piece.sample_rate == 22050
    assert piece.num_samples == len(text.encode("utf-8")) * 100
    (call,) = calls(fake_binary)
    assert call["stdin"] == text
    assert call["argv"] == ["--stdout", "-b", "1", "-v", "en-us", "-s", "160"]
    assert "-m" not in call["argv"]  # -m would make espeak-ng interpret SSML


@pytest.mark.parametrize("voice", ["-w", "de", "en-us --stdout", "../en-us"])
def test_only_listed_well_formed_voices_are_used(fake_binary: Path, voice: str) -> None:
    with pytest.raises(PermanentEngineError) as caught:
        EspeakEngine(binary=str(fake_binary)).synthesize("Hello.", voice=voice)
    assert caught.value.user_message == "This voice is not available."
    assert not (fake_binary.parent / "calls.jsonl").exists()


def test_failure_is_permanent_and_timeout_transient(fake_binary: Path) -> None:
    engine = EspeakEngine(binary=str(fake_binary), timeout_seconds=1.0)
    with pytest.raises(PermanentEngineError) as crashed:
        engine.synthesize("CRASH now", voice="en-us")
    assert crashed.value.code == "exit_3"
    with pytest.raises(TransientEngineError):
        engine.synthesize("SLEEP now", voice="en-us")


needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed on this machine"
)


@needs_espeak
def test_real_espeak_lists_english() -> None:
    names = {voice.name for voice in EspeakEngine().voices()}
    assert names & {"en", "en-us", "en-gb"}


@needs_espeak
def test_real_espeak_speaks() -> None:
    engine = EspeakEngine()
    voice = next(v.name for v in engine.voices() if v.name in ("en-us", "en", "en-gb"))
    piece = engine.synthesize("Hello world. <break time='10s'/>", voice=voice)
    assert 0.5 < piece.duration_seconds < 8
    assert np.abs(np.frombuffer(piece.pcm, dtype="<i2")).max() > 1000
