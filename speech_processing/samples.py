"""Short voice previews, made once per voice and kept in storage."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from speech_processing.encoding import EncoderOptions
from speech_processing.engines.base import Voice
from speech_processing.synthesis import synthesize_text
from speech_processing.voices import get_engine

SAMPLE_TEXT = "Hello! This is how I sound reading your documents aloud."


def sample_key(*, voice: Voice) -> str:
    """The stored preview of `voice`, made on first request."""
    digest = hashlib.sha256(f"{voice.id}\n{SAMPLE_TEXT}".encode()).hexdigest()[:24]
    key = f"voice-samples/{digest}.mp3"
    if not default_storage.exists(key):
        output = synthesize_text(
            SAMPLE_TEXT,
            engine=get_engine(voice.engine),
            voice=voice.name,
            language=voice.language.split("-")[0] or "en",
            encoder_options=EncoderOptions(bitrate_kbps=settings.AUDIO_MP3_BITRATE_KBPS),
        )
        # Two first requests may race; the file name is the same, so either copy serves.
        if not default_storage.exists(key):
            default_storage.save(key, ContentFile(output.mp3))
    return key
