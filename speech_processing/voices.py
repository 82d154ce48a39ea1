"""The voice catalogue: engines built from settings, once per process, and their voices."""

from __future__ import annotations

import logging
import threading
from functools import cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.translation import gettext as _

from core.exceptions import ValidationError
from speech_processing.engines.base import SpeechEngine, Voice
from speech_processing.engines.registry import DEFAULT_ENGINES, build_engine, parse_voice_id

if TYPE_CHECKING:  # the command line imports this module with no apps (and no models) set up
    from users.models import User

logger = logging.getLogger(__name__)
_lock = threading.Lock()


@cache
def get_engine(name: str) -> SpeechEngine:
    """The engine `name` as configured; built once per process (voices stay loaded)."""
    options = settings.SPEECH_ENGINES.get(name)
    if options is None:
        raise LookupError(name)
    with _lock:
        registry = {**DEFAULT_ENGINES, **settings.SPEECH_ENGINE_CLASSES}
        return build_engine(name, options=options, registry=registry)


@cache
def _voices_of(name: str) -> tuple[Voice, ...]:
    return tuple(get_engine(name).voices())


def all_voices() -> list[Voice]:
    """Every voice of every configured engine; an engine that fails to list is left out."""
    voices: list[Voice] = []
    for name in settings.SPEECH_ENGINES:
        try:
            voices.extend(_voices_of(name))
        except Exception:
            logger.exception("Speech engine %s could not list its voices", name)
    return voices


def resolve_voice(voice_id: str) -> Voice:
    """The configured voice with this id, or a 400 that says so."""
    try:
        engine_name, _name = parse_voice_id(voice_id)
    except ValueError as exc:
        raise ValidationError(
            _("A voice id looks like engine:name."), fields={"voice": [_("Unknown voice.")]}
        ) from exc
    if engine_name not in settings.SPEECH_ENGINES:
        message = _("The speech engine %(engine)s is not configured.") % {"engine": engine_name}
        raise ValidationError(message, fields={"voice": [message]})
    for voice in all_voices():
        if voice.id == voice_id:
            return voice
    message = _("This voice is not available.")
    raise ValidationError(message, fields={"voice": [message]})


def voice_for(user: User, requested: str | None = None) -> str:
    """The voice to speak in: the one asked for, else the person's preferred, else the site's."""
    return requested or user.preferred_voice or settings.SPEECH_DEFAULT_VOICE


def reset_caches() -> None:
    """Forget built engines (tests that change SPEECH_ENGINES call this)."""
    get_engine.cache_clear()
    _voices_of.cache_clear()
