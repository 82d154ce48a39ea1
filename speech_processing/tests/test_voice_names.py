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


def test_a_voice_named_after_its_language_is_told_apart_by_the_engines_own_words() -> None:
    # eSpeak NG describes each voice: where the tag says more than a language and region, or
    # names a language Django does not know, those words name the voice.
    scottish = Voice(
        "espeak:en-gb-scotland", "espeak", "en-gb-scotland", "en-GB-scotland", "",
        description="espeak-ng English (Scotland)",
    )  # fmt: skip
    british = Voice("espeak:en-gb", "espeak", "en-gb", "en-GB", "", "espeak-ng English (GB)")
    amharic = Voice("espeak:am", "espeak", "am", "am", "", description="espeak-ng Amharic")
    assert voices.display_name(scottish) == "English (Scotland), eSpeak NG"
    assert voices.display_name(british) == "English (GB), eSpeak NG"
    assert voices.display_name(amharic) == "Amharic, eSpeak NG"
    # In a picker: grouped under the language and region the tag says.
    assert voices.language_label(scottish) == voices.language_label(british) == "English (GB)"
    assert voices.language_label(amharic) == "Amharic"


@pytest.mark.parametrize(
    ("described", "short"),
    [
        (voice("piper:en_US-joe-medium", "en-US"), "Joe · Piper, medium"),
        (voice("polly:Joanna", "en-US"), "Joanna · Amazon Polly"),
        # Without a speaker, the language stays: the list would otherwise repeat one name.
        (voice("espeak:en-us", "en-US"), "English (US) · eSpeak NG"),
    ],
)
def test_within_its_language_a_voice_has_a_short_name(described: Voice, short: str) -> None:
    assert voices.voice_name(described).short == short


def test_voices_are_grouped_by_language_the_chosen_voice_and_the_texts_language_first() -> None:
    catalogue = [
        voice("espeak:af", "af"),
        voice("piper:en_US-joe-medium", "en-US"),
        voice("fake:beta", "en-GB"),
        voice("espeak:fr-fr", "fr-FR"),
        voice("fake:alpha", "en-US"),
        voice("other:nova", ""),
    ]
    groups = voices.by_language(catalogue, first="fake:alpha", language="fr")
    assert [(group.label, [v.id for v in group.voices]) for group in groups] == [
        ("English (US)", ["fake:alpha", "piper:en_US-joe-medium"]),
        ("French (FR)", ["espeak:fr-fr"]),
        ("Afrikaans", ["espeak:af"]),
        ("English (GB)", ["fake:beta"]),
        ("Other languages", ["other:nova"]),
    ]


def test_every_installed_voice_has_a_name_of_its_own() -> None:
    names = [voices.display_name(described) for described in voices.all_voices()]
    assert len(names) == len(set(names))
