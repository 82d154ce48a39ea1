"""The voice a document is read in by default, and the warning for a voice of another language."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from speech_processing import voices
from speech_processing.engines.base import AudioPiece, Voice, voice_id
from speech_processing.engines.espeak import parse_voice_list
from users.models import User

pytestmark = pytest.mark.django_db

# What `espeak-ng --voices` lists (a few of its lines, as it prints them).
ESPEAK_LIST = """\
Pty Language       Age/Gender VoiceName          File                 Other Languages
 5  ar              --/M      Arabic             sem/ar
 5  cmn             --/M      Chinese_(Mandarin) sit/cmn              (zh-cmn 5)(zh 5)
 5  en-029          --/M      English_(Caribbean) gmw/en-029           (en 10)
 2  en-us           --/M      English_(America)  gmw/en-US            (en 3)
 5  fr-be           --/M      French_(Belgium)   roa/fr-BE            (fr 8)
 5  fr-fr           --/M      French_(France)    roa/fr               (fr 5)
 5  nb              --/M      Norwegian_Bokmål   gmq/nb               (no 5)
 5  pt              --/M      Portuguese_(Portugal) roa/pt               (pt-pt 5)
 5  pt-br           --/M      Portuguese_(Brazil) roa/pt-BR            (pt 6)
"""


class ListedEngine:
    """espeak-ng's voices as it lists them, without running it (its order is kept)."""

    name: ClassVar[str] = "listed"
    max_chunk_chars = 500
    chunk_by_sentence = True

    def voices(self) -> list[Voice]:
        return [
            Voice(
                id=voice_id(self.name, voice.name),
                engine=self.name,
                name=voice.name,
                language=voice.language,
                gender=voice.gender,
            )
            for voice in parse_voice_list(ESPEAK_LIST)
        ]

    def synthesize(self, text: str, *, voice: str) -> AudioPiece:
        return AudioPiece(pcm=b"\x00\x00", sample_rate=16000)


@pytest.fixture
def listed(settings: Any) -> None:
    """The fake engine's English voices (the site's default is fake:alpha), then espeak-ng's."""
    settings.SPEECH_ENGINE_CLASSES = {"listed": f"{__name__}.ListedEngine"}
    settings.SPEECH_ENGINES = {"fake": {}, "listed": {}}
    voices.reset_caches()


@pytest.mark.usefixtures("listed")
@pytest.mark.parametrize(
    ("language", "voice"),
    [
        ("ar", "listed:ar"),  # the only voice that speaks it
        ("zh", "listed:cmn"),  # espeak-ng calls Mandarin "cmn"
        ("no", "listed:nb"),  # and Norwegian Bokmål "nb"
        ("fr", "listed:fr-fr"),  # France's French before Belgium's
        ("pt-BR", "listed:pt-br"),  # the very variety asked for
        ("pt", "listed:pt"),
        ("en", "fake:alpha"),  # the site's default speaks English: it stays
        ("", "fake:alpha"),  # an unknown language changes nothing
        ("ja", "fake:alpha"),  # nobody speaks Japanese here: the usual voice, not none
    ],
)
def test_the_default_voice_speaks_the_documents_language(
    alice: User, language: str, voice: str
) -> None:
    assert voices.voice_for(alice, language=language) == voice


@pytest.mark.usefixtures("listed")
def test_a_preferred_voice_is_kept_when_it_speaks_the_language(alice: User) -> None:
    alice.preferred_voice = "listed:fr-be"
    assert voices.voice_for(alice, language="fr") == "listed:fr-be"
    # Not when it does not: then the site's default, when that one does.
    assert voices.voice_for(alice, language="en") == "fake:alpha"
    assert voices.voice_for(alice, language="ar") == "listed:ar"
    # A voice asked for is always the one used.
    assert voices.voice_for(alice, "fake:beta", language="ar") == "fake:beta"


@pytest.mark.usefixtures("listed")
def test_a_voice_of_another_language_is_warned_about() -> None:
    assert voices.language_warnings("listed:ar", language="ar") == []
    assert voices.language_warnings("listed:en-us", language="en-GB") == []
    assert voices.language_warnings("fake:alpha", language="") == []
    assert voices.language_warnings("nobody:here", language="ar") == []
    (warning,) = voices.language_warnings("fake:alpha", language="ar")
    assert "alpha" in warning.lower()
    assert "English" in warning
    assert "Arabic" in warning


def test_the_real_espeak_voices_cover_the_languages_pagecast_detects() -> None:
    """With espeak-ng installed, Arabic, Russian, Japanese, Chinese and Hebrew text each get a
    voice of their own; without it this says nothing."""
    import shutil

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    from speech_processing.engines.espeak import EspeakEngine

    listed = EspeakEngine().voices()
    for language in ("ar", "ru", "ja", "zh", "he", "fa", "de", "es"):
        assert any(voices.speaks(voice, language) for voice in listed), language
