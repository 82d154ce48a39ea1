"""Does a voice load and speak? Each worker asks about its default voice (operations/workers.py).

It asks in a process of its own, `python -m speech_processing.probe VOICE_ID`, which prints one
JSON line, `{"voice": ..., "error": null}` or with the reason it could not speak. A loaded Piper
voice costs hundreds of megabytes: the worker's main process only hands out jobs and should not
keep one, and its pool processes load theirs when a job needs it.

Reasons are our own words (an engine's `EngineError` text is written by us, never a library's
or a service's message), so they name no credential; the exception itself goes to the log.
"""

from __future__ import annotations

import json
import logging
import sys

from speech_processing.engines.base import EngineError
from speech_processing.engines.registry import parse_voice_id

logger = logging.getLogger(__name__)

PROBE_TEXT = "Ready."


def probe_voice(voice_id: str) -> str | None:
    """None when `voice_id` loads and speaks a word; otherwise why not."""
    from speech_processing.voices import get_engine

    try:
        engine_name, name = parse_voice_id(voice_id)
    except ValueError:
        return "the voice id does not look like engine:name"
    try:
        engine = get_engine(engine_name)
    except LookupError:
        return f"the speech engine {engine_name} is not configured"
    except Exception as exc:
        logger.exception("Speech engine %s could not be built", engine_name)
        return f"the speech engine {engine_name} could not be built ({type(exc).__name__})"
    try:
        piece = engine.synthesize(PROBE_TEXT, voice=name)
    except EngineError as exc:
        return f"{exc} ({exc.code})" if exc.code else str(exc)
    except Exception as exc:
        logger.exception("Voice %s could not be loaded", voice_id)
        return f"the voice could not be loaded ({type(exc).__name__})"
    if piece.num_samples == 0:
        return "the voice produced no audio"
    return None


def main(argv: list[str]) -> int:
    import django

    django.setup()
    from django.conf import settings

    voice = argv[0] if argv else str(settings.SPEECH_DEFAULT_VOICE)
    print(json.dumps({"voice": voice, "error": probe_voice(voice)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
