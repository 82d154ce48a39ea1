"""Short voice previews, made once per voice by a worker and kept in storage.

Web processes never synthesise (they load no speech engine). The first request for a voice's
preview queues its making for a worker and waits up to VOICE_SAMPLE_WAIT_SECONDS for it to be
stored; if it is not by then, it answers 503 with Retry-After, and a later request finds it.
"""

from __future__ import annotations

import hashlib
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from kombu.exceptions import KombuError

from core.exceptions import ServiceUnavailable, ValidationError
from core.security_utils import log_exception_safely, new_error_id
from speech_processing.encoding import EncoderOptions
from speech_processing.engines.base import EngineError, Voice
from speech_processing.synthesis import synthesize_text
from speech_processing.voices import get_engine, resolve_voice

logger = logging.getLogger(__name__)

SAMPLE_TEXT = "Hello! This is how I sound reading your documents aloud."
# A preview asked for is queued once in this long: one that a worker could not make (its engine
# failed or was busy) is queued again by the first request after it.
QUEUED_SECONDS = 60
POLL_SECONDS = 0.25
RETRY_AFTER_SECONDS = 5


def sample_name(voice_id: str) -> str:
    """Where the preview of `voice_id` is stored."""
    digest = hashlib.sha256(f"{voice_id}\n{SAMPLE_TEXT}".encode()).hexdigest()[:24]
    return f"voice-samples/{digest}.mp3"


def sample_key(*, voice: Voice) -> str:
    """The stored preview of `voice`, asked of a worker when it is not made yet.

    Raises ServiceUnavailable (503 with Retry-After) when it is not stored within
    VOICE_SAMPLE_WAIT_SECONDS.
    """
    key = sample_name(voice.id)
    if default_storage.exists(key):
        return key
    if cache.add(f"voice-sample-queued:{key}", True, timeout=QUEUED_SECONDS):
        _queue(voice.id)
    deadline = time.monotonic() + settings.VOICE_SAMPLE_WAIT_SECONDS
    while not default_storage.exists(key):
        if time.monotonic() >= deadline:
            raise ServiceUnavailable(
                _("This voice's preview is being made; try again in a moment."),
                retry_after=RETRY_AFTER_SECONDS,
            )
        time.sleep(POLL_SECONDS)
    return key


def _queue(voice_id: str) -> None:
    # Named by its path: the tasks module imports this one. Nothing written here needs to be
    # committed first, so it is sent at once.
    task_path = "speech_processing.tasks.make_voice_sample_task"
    try:
        import_string(task_path).delay(voice_id)
    except KombuError as exc:
        # The broker is down: the request answers 503 as for any preview not made yet.
        log_exception_safely(exc, error_id=new_error_id(), context=f"queueing {task_path}")


def make_sample(*, voice_id: str) -> None:
    """Speak and store the preview of `voice_id`, unless it is stored (a worker's task)."""
    try:
        voice = resolve_voice(voice_id)
    except ValidationError:
        logger.warning("Preview of voice %s not made: the voice is not available", voice_id)
        return
    key = sample_name(voice.id)
    if default_storage.exists(key):
        return
    try:
        output = synthesize_text(
            SAMPLE_TEXT,
            engine=get_engine(voice.engine),
            voice=voice.name,
            language=voice.language.split("-")[0] or "en",
            encoder_options=EncoderOptions(bitrate_kbps=settings.AUDIO_MP3_BITRATE_KBPS),
        )
    except EngineError as exc:
        # No row records a preview's failure: the log keeps the cause, and the first request
        # after QUEUED_SECONDS asks again.
        logger.error("Preview of voice %s not made: %s", voice.id, exc)
        return
    # Two workers may race; the file name is the same, so either copy serves.
    if not default_storage.exists(key):
        default_storage.save(key, ContentFile(output.mp3))
