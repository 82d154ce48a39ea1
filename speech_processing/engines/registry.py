"""Engine registry: engine name → dotted path of its class, and building engines from options.

Settings map names to classes (``DEFAULT_ENGINES`` is the default map) and hand each engine its
options as a plain mapping, so this module never reads Django settings itself.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Mapping
from typing import Any

from speech_processing.engines.base import SpeechEngine

DEFAULT_ENGINES: Mapping[str, str] = {
    "piper": "speech_processing.engines.piper.PiperEngine",
    "espeak": "speech_processing.engines.espeak.EspeakEngine",
    "polly": "speech_processing.engines.polly.PollyEngine",
    "openai": "speech_processing.engines.openai.OpenAIEngine",
    "fake": "speech_processing.engines.fake.FakeEngine",
}

_ENGINE_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
# Voice names are looked up in an engine's own list, never turned into paths or markup, but we
# still refuse whitespace and control characters so a stored id is always one clean token.
_VOICE_NAME = re.compile(r"[^\s\x00-\x1f\x7f]{1,128}")


def parse_voice_id(value: str) -> tuple[str, str]:
    """Split "piper:en_US-joe-medium" into ("piper", "en_US-joe-medium").

    Only the first colon separates, so voice names may contain colons.
    """
    engine, sep, name = value.partition(":")
    if not sep:
        raise ValueError(f"Voice id {value!r} must look like 'engine:name'.")
    if not _ENGINE_NAME.fullmatch(engine):
        raise ValueError(f"Voice id {value!r} has an invalid engine name.")
    if not _VOICE_NAME.fullmatch(name):
        raise ValueError(f"Voice id {value!r} has an empty or invalid voice name.")
    return engine, name


def load_engine_class(name: str, *, registry: Mapping[str, str] | None = None) -> type[Any]:
    """Import the class registered under ``name``."""
    engines = DEFAULT_ENGINES if registry is None else registry
    try:
        dotted = engines[name]
    except KeyError:
        known = ", ".join(sorted(engines)) or "none"
        raise ValueError(f"Unknown speech engine {name!r} (known: {known}).") from None
    module_path, _, class_name = dotted.rpartition(".")
    if not module_path:
        raise ValueError(f"Speech engine {name!r} path {dotted!r} is not a dotted path.")
    module = importlib.import_module(module_path)
    try:
        cls: type[Any] = getattr(module, class_name)
    except AttributeError:
        raise ValueError(f"Speech engine {name!r}: {dotted!r} does not exist.") from None
    return cls


def build_engine(
    name: str, *, options: Mapping[str, Any], registry: Mapping[str, str] | None = None
) -> SpeechEngine:
    """Build the engine registered under ``name`` with ``options`` as keyword arguments.

    Engines are cheap to build; expensive state (Piper models, Polly voice lists) is cached by
    the engines themselves, so callers may build one per task.
    """
    cls = load_engine_class(name, registry=registry)
    try:
        _signature(cls).bind(**options)
    except TypeError:
        # A wrong option name is a configuration mistake. Name the option keys, never their
        # values: options hold API keys and secrets.
        raise ValueError(f"Invalid options for speech engine {name!r}: {sorted(options)}") from None
    engine = cls(**options)
    if not isinstance(engine, SpeechEngine):
        raise TypeError(f"{cls.__qualname__} does not implement SpeechEngine.")
    if engine.name != name:
        raise ValueError(f"Engine registered as {name!r} calls itself {engine.name!r}.")
    return engine


def _signature(cls: type[Any]) -> inspect.Signature:
    try:
        return inspect.signature(cls)
    except ValueError:  # classes implemented in C may have none; then accept any options
        return inspect.Signature([inspect.Parameter("options", inspect.Parameter.VAR_KEYWORD)])
