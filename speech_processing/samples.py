"""Short voice previews, made once per voice and kept in storage."""

from __future__ import annotations

import hashlib
import logging
import math

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _

from core.exceptions import ServiceUnavailable
from speech_processing.encoding import EncoderOptions
from speech_processing.engines.base import EngineError, TransientEngineError, Voice
from speech_processing.synthesis import SynthesisOutput, synthesize_text
from speech_processing.voices import get_engine

logger = logging.getLogger(__name__)

SAMPLE_TEXT = "Hello! This is how I sound reading your documents aloud."


def sample_key(*, voice: Voice) -> str:
    """The stored preview of `voice`, made on first request.

    Raises ServiceUnavailable (503) when the engine cannot make it now: nothing is stored, so
    the next request tries again.
    """
    digest = hashlib.sha256(f"{voice.id}\n{SAMPLE_TEXT}".encode()).hexdigest()[:24]
    key = f"voice-samples/{digest}.mp3"
    if not default_storage.exists(key):
        output = _spoken_sample(voice)
        # Two first requests may race; the file name is the same, so either copy serves.
        if not default_storage.exists(key):
            default_storage.save(key, ContentFile(output.mp3))
    return key


def _spoken_sample(voice: Voice) -> SynthesisOutput:
    try:
        return synthesize_text(
            SAMPLE_TEXT,
            engine=get_engine(voice.engine),
            voice=voice.name,
            language=voice.language.split("-")[0] or "en",
            encoder_options=EncoderOptions(bitrate_kbps=settings.AUDIO_MP3_BITRATE_KBPS),
        )
    except TransientEngineError as exc:
        logger.warning("Preview of voice %s not made, engine busy: %s", voice.id, exc)
        retry_after = math.ceil(exc.retry_after) if exc.retry_after is not None else None
        raise ServiceUnavailable(
            _("The speech service is busy; try this preview again in a moment."),
            retry_after=retry_after,
        ) from exc
    except EngineError as exc:
        # A preview is made on a visitor's request, not in a task: there is no row to record
        # the failure on, so the log keeps the cause and the visitor may simply try later.
        logger.error("Preview of voice %s not made: %s", voice.id, exc)
        raise ServiceUnavailable(
            _("This voice's preview could not be made; try again later.")
        ) from exc
