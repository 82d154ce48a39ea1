"""The engine registry and voice ids."""

from __future__ import annotations

import pytest

from speech_processing.engines.base import SpeechEngine
from speech_processing.engines.fake import FakeEngine
from speech_processing.engines.registry import (
    DEFAULT_ENGINES,
    build_engine,
    load_engine_class,
    parse_voice_id,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("piper:en_US-joe-medium", ("piper", "en_US-joe-medium")),
        ("polly:Joanna", ("polly", "Joanna")),
        ("openai:model:voice", ("openai", "model:voice")),  # only the first colon splits
    ],
)
def test_parse_voice_id(value: str, expected: tuple[str, str]) -> None:
    assert parse_voice_id(value) == expected


@pytest.mark.parametrize(
    "value", ["", "piper", ":joe", "piper:", "Piper:joe", "pi per:joe", "piper:a b", "x:\n"]
)
def test_parse_voice_id_rejects_malformed_ids(value: str) -> None:
    with pytest.raises(ValueError, match="Voice id"):
        parse_voice_id(value)


@pytest.mark.parametrize("name", sorted(DEFAULT_ENGINES))
def test_every_default_engine_is_importable_and_named_as_registered(name: str) -> None:
    cls = load_engine_class(name)
    assert cls.name == name


def test_build_engine_passes_options() -> None:
    engine = build_engine("fake", options={"max_chunk_chars": 123})
    assert isinstance(engine, FakeEngine)
    assert isinstance(engine, SpeechEngine)
    assert engine.max_chunk_chars == 123


def test_unknown_engine_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"Unknown speech engine 'nope' \(known: .*piper"):
        build_engine("nope", options={})


def test_bad_option_names_the_keys_but_never_the_values() -> None:
    with pytest.raises(ValueError, match="Invalid options") as caught:
        build_engine("fake", options={"api_key": "sk-very-secret", "max_chunk_chars": 5})
    assert "api_key" in str(caught.value)
    assert "sk-very-secret" not in str(caught.value)


def test_custom_registry() -> None:
    registry = {"fake": "speech_processing.engines.fake.FakeEngine"}
    assert isinstance(build_engine("fake", options={}, registry=registry), FakeEngine)
    with pytest.raises(ValueError, match="Unknown"):
        build_engine("piper", options={}, registry=registry)


def test_registry_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="does not exist"):
        build_engine("x", options={}, registry={"x": "speech_processing.engines.fake.Nope"})
    with pytest.raises(ValueError, match="not a dotted path"):
        build_engine("x", options={}, registry={"x": "FakeEngine"})
    with pytest.raises(TypeError, match="does not implement"):
        build_engine("x", options={}, registry={"x": "argparse.Namespace"})
    with pytest.raises(TypeError, match="does not implement"):
        build_engine("x", options={}, registry={"x": "builtins.dict"})
    with pytest.raises(ValueError, match="calls itself 'fake'"):
        build_engine(
            "other", options={}, registry={"other": "speech_processing.engines.fake.FakeEngine"}
        )
