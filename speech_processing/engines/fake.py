"""A deterministic engine for tests: tones whose pitch depends on the text, no model, no network.

The same text always gives the same PCM; duration grows with the text (``ms_per_char``). Errors
can be provoked in two ways, so retry logic elsewhere can be tested:

* text containing ``TRANSIENT_MARKER`` or ``PERMANENT_MARKER`` fails every time (stateless, so
  it also works when each task attempt builds a new engine);
* ``fail_transient_times=N`` fails the first N calls of this instance, then succeeds.
"""

from __future__ import annotations

import threading
import time
import zlib
from typing import ClassVar

import numpy as np

from speech_processing.engines.base import (
    MSG_REJECTED,
    MSG_VOICE_UNAVAILABLE,
    AudioPiece,
    PermanentEngineError,
    TransientEngineError,
    Voice,
    voice_id,
)

TRANSIENT_MARKER = "FAKE_TRANSIENT_ERROR"
PERMANENT_MARKER = "FAKE_PERMANENT_ERROR"

# Base pitch per voice, so the two voices sound (and hash) differently.
_VOICES = {"alpha": ("en-US", "female", 220.0), "beta": ("en-GB", "male", 110.0)}


class FakeEngine:
    name: ClassVar[str] = "fake"

    def __init__(
        self,
        *,
        sample_rate: int = 16000,
        ms_per_char: float = 60.0,
        min_ms: float = 50.0,
        max_ms: float = 60_000.0,
        max_chunk_chars: int = 500,
        chunk_by_sentence: bool = True,
        fail_transient_times: int = 0,
        fail_permanently: bool = False,
        delay_seconds: float = 0.0,
    ) -> None:
        self.sample_rate = sample_rate
        self.ms_per_char = ms_per_char
        self.min_ms = min_ms
        self.max_ms = max_ms
        self.max_chunk_chars = max_chunk_chars
        self.chunk_by_sentence = chunk_by_sentence
        self.fail_permanently = fail_permanently
        self.delay_seconds = delay_seconds
        self._failures_left = fail_transient_times
        self._lock = threading.Lock()
        self.calls: list[tuple[str, str]] = []  # (voice, text), for assertions in tests

    def voices(self) -> list[Voice]:
        return [
            Voice(
                id=voice_id(self.name, name),
                engine=self.name,
                name=name,
                language=language,
                gender=gender,
                description=f"Test tone voice {name}",
            )
            for name, (language, gender, _) in _VOICES.items()
        ]

    def synthesize(self, text: str, *, voice: str) -> AudioPiece:
        with self._lock:
            self.calls.append((voice, text))
            self._raise_if_asked(text)
        if voice not in _VOICES:
            raise PermanentEngineError("fake: unknown voice", user_message=MSG_VOICE_UNAVAILABLE)
        if len(text) > self.max_chunk_chars:
            raise PermanentEngineError("fake: text longer than max_chunk_chars")
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        return AudioPiece(pcm=self._tone(text, voice), sample_rate=self.sample_rate)

    def _raise_if_asked(self, text: str) -> None:
        if self._failures_left > 0:
            self._failures_left -= 1
            raise TransientEngineError("fake: simulated throttling", code="fake_transient")
        if TRANSIENT_MARKER in text:
            raise TransientEngineError("fake: transient marker", code="fake_transient")
        if self.fail_permanently or PERMANENT_MARKER in text:
            raise PermanentEngineError(
                "fake: permanent failure", user_message=MSG_REJECTED, code="fake_permanent"
            )

    def duration_ms(self, text: str) -> float:
        if not text.strip():
            return 0.0
        return min(self.max_ms, max(self.min_ms, len(text) * self.ms_per_char))

    def _tone(self, text: str, voice: str) -> bytes:
        samples = round(self.duration_ms(text) * self.sample_rate / 1000)
        if not samples:
            return b""
        # crc32 is stable across processes (unlike hash()), so the PCM is reproducible.
        pitch = _VOICES[voice][2] + zlib.crc32(text.encode("utf-8", "surrogatepass")) % 200
        t = np.arange(samples, dtype=np.float64) / self.sample_rate
        wave = 0.3 * np.sin(2 * np.pi * pitch * t)
        return (wave * 32767).astype("<i2").tobytes()
