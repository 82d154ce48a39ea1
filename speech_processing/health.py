"""The `tts` health probe: the default voice's engine loads and speaks a word."""

from __future__ import annotations

import time

from django.conf import settings

from speech_processing.engines.registry import parse_voice_id
from speech_processing.voices import get_engine

# A passing probe is remembered briefly, so a load balancer polling every second does not keep
# the engine busy; a failure is never remembered.
_CACHE_SECONDS = 30.0
_last_ok: dict[str, float] = {}


def check_tts() -> None:
    voice_id = settings.SPEECH_DEFAULT_VOICE
    now = time.monotonic()
    if now - _last_ok.get(voice_id, -_CACHE_SECONDS) < _CACHE_SECONDS:
        return
    engine_name, voice = parse_voice_id(voice_id)
    piece = get_engine(engine_name).synthesize("Ready.", voice=voice)
    if piece.num_samples == 0:
        raise RuntimeError("the default voice produced no audio")
    _last_ok[voice_id] = now
