"""How a voice is named to people (voices.display_name): from its own metadata, one spelling."""

from __future__ import annotations

import pytest

from speech_processing import voices
from speech_processing.engines.base import Voice


def voice(voice_id: str, language: str) -> Voice:
    engine, _sep, name = voice_id.partition(":")
    return Voice(id=voice_id, engine=engine, name=name, language=language, gender="")


@pytest.mark.parametrize(
    ("described", "expected"),
    [
        (voice("piper:en_US-joe-medium", "en-US"), "Joe (English (US), Piper, medium)"),
        (voice("piper:en_GB-alba-x_low", "en-GB"), "Alba (English (GB), Piper, x-low)"),
        (
            voice("piper:de_DE-thorsten_emotional-high", "de-DE"),
            "Thorsten emotional (German (DE), Piper, high)",
        ),
        # Named after its language alone: no speaker.
        (voice("espeak:en-us", "en-US"), "English (US), eSpeak NG"),
        (voice("polly:Joanna", "en-US"), "Joanna (English (US), Amazon Polly)"),
        (voice("openai:alloy", "en"), "Alloy (English, OpenAI)"),
        (voice("other:nova", ""), "Nova (Other)"),
    ],
)
def test_a_voice_is_named_by_speaker_language_engine_and_quality(
    described: Voice, expected: str
) -> None:
    assert voices.display_name(described) == expected


def test_a_configured_voice_is_named_from_its_metadata_and_a_gone_one_from_its_id() -> None:
    # The test settings configure the fake engine, whose "beta" speaks British English.
    assert voices.display_name_of("fake:beta") == "Beta (English (GB), Test tones)"
    # Not configured here: what the id tells (a Piper id carries language and quality).
    assert voices.display_name_of("piper:fr_FR-siwis-low") == "Siwis (French (FR), Piper, low)"
    assert voices.display_name_of("polly:Hans") == "Hans (Amazon Polly)"
