"""The voice catalogue: engines built from settings, once per process, and their voices."""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.translation import get_language, get_language_info
from django.utils.translation import gettext as _

from core.exceptions import ValidationError
from speech_processing.engines.base import SpeechEngine, Voice, language_tag
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


# Engines as people know them; another engine is shown by its name, capitalised.
ENGINE_NAMES = {
    "piper": "Piper",
    "espeak": "eSpeak NG",
    "polly": "Amazon Polly",
    "openai": "OpenAI",
    "fake": "Test tones",
}
# Piper names its voices <language>_<REGION>-<speaker>-<quality>, e.g. "en_US-joe-medium".
_PIPER_NAME = re.compile(
    r"(?P<language>[a-z]{2,3}(?:_[A-Za-z]{2})?)-(?P<speaker>.+)-(?P<quality>x_low|low|medium|high)"
)


@dataclass(frozen=True)
class VoiceName:
    """A voice as people know it, from its own metadata."""

    speaker: str  # "Joe"; empty for a voice named after its language alone (eSpeak NG's)
    language: str  # "English (US)"
    engine: str  # "Piper"
    quality: str  # "medium" (Piper's); empty for other engines

    @property
    def full(self) -> str:
        """ "Joe (English (US), Piper, medium)"; "English (US), eSpeak NG" without a speaker."""
        described = ", ".join(part for part in (self.language, self.engine, self.quality) if part)
        return f"{self.speaker} ({described})" if self.speaker else described

    @property
    def short(self) -> str:
        """For a list grouped by language: "Joe · Piper, medium"; a voice without a speaker
        keeps its language ("English (US) · eSpeak NG"), or the list would repeat one name."""
        engine = ", ".join(part for part in (self.engine, self.quality) if part)
        first = self.speaker or self.language
        return f"{first} · {engine}" if first else engine


def voice_name(voice: Voice) -> VoiceName:
    """The parts of a voice's name: its speaker, language, engine and (for Piper) quality."""
    speaker, quality = voice.name, ""
    language = _language_and_region(voice.language)
    piper = _PIPER_NAME.fullmatch(voice.name) if voice.engine == "piper" else None
    if piper is not None:
        speaker, quality = piper["speaker"], piper["quality"].replace("_", "-")
    elif language_tag(voice.name).casefold() == voice.language.casefold():
        speaker = ""
        # Named after its language: where the tag says more than a language and region
        # (en-GB-scotland, es-419) or names a language Django does not know, the engine's own
        # words tell the voices apart.
        if not _plain(voice.language) or not _known(voice.language):
            language = _own_label(voice) or language
    if speaker.islower():
        speaker = speaker.replace("_", " ").capitalize()
    return VoiceName(
        speaker=speaker,
        language=language,
        engine=ENGINE_NAMES.get(voice.engine, voice.engine.capitalize()),
        quality=quality,
    )


def display_name(voice: Voice) -> str:
    """How people see a voice, from its own metadata: the speaker, then its language, engine
    and (for Piper) quality: "Joe (English (US), Piper, medium)". A voice named after its
    language alone (eSpeak NG's) is "English (US), eSpeak NG"."""
    return voice_name(voice).full


def display_name_of(voice_id: str) -> str:
    """The display name of the voice with this id; for a voice no longer offered (old audio),
    what its id tells."""
    return _display_name_in(voice_id, get_language(), tuple(settings.SPEECH_ENGINES))


@lru_cache(maxsize=2048)
def _display_name_in(voice_id: str, language: str | None, engines: tuple[str, ...]) -> str:
    # Asked for every audio shown (each status poll, each row of a list); the name depends on the
    # voice, the language it is shown in and the engines that offer voices.
    return display_name(_known_or_told(voice_id))


def _known_or_told(voice_id: str) -> Voice:
    for voice in all_voices():
        if voice.id == voice_id:
            return voice
    engine, _sep, name = voice_id.partition(":")
    piper = _PIPER_NAME.fullmatch(name) if engine == "piper" else None
    language = language_tag(piper["language"]) if piper else ""
    return Voice(id=voice_id, engine=engine, name=name, language=language, gender="")


@dataclass(frozen=True)
class LanguageGroup:
    """Voices of one language (and region), as a voice picker groups them."""

    label: str  # "English (US)"; "Other languages" for voices whose language is not known
    voices: list[Voice]


def by_language(voices: list[Voice], *, first: str = "", language: str = "") -> list[LanguageGroup]:
    """`voices` grouped by language and region: the group of the voice `first` leads (with that
    voice first), then the groups that speak `language` (a BCP 47 tag), then the rest by name.
    Within a group the voices keep their order."""
    groups: dict[str, list[Voice]] = {}
    for voice in sorted(voices, key=lambda voice: voice.id != first):  # stable
        groups.setdefault(language_label(voice), []).append(voice)

    def rank(label: str) -> tuple[bool, bool, str]:
        members = groups[label]
        return (
            members[0].id != first,
            not any(speaks(voice, language) for voice in members),
            label.casefold(),
        )

    return [LanguageGroup(label=label, voices=groups[label]) for label in sorted(groups, key=rank)]


def language_label(voice: Voice) -> str:
    """The language and region a voice speaks, as a voice picker groups it: "English (US)"."""
    if voice.language and not _known(voice.language):
        return _own_label(voice) or voice.language
    return _language_and_region(voice.language) or _("Other languages")


# Engines that name voices after their language describe each in their own words, in the
# voice's description after this prefix: eSpeak NG says "English (Scotland)" for en-GB-scotland.
_OWN_LABELS = {"espeak": "espeak-ng "}


def _own_label(voice: Voice) -> str:
    prefix = _OWN_LABELS.get(voice.engine)
    if prefix and voice.description.startswith(prefix):
        return voice.description.removeprefix(prefix).strip()
    return ""


def _plain(tag: str) -> bool:
    """Whether a tag is a language and at most a region ("en", "en-US"; not "en-GB-scotland")."""
    parts = tag.split("-")
    return len(parts) == 1 or (len(parts) == 2 and len(parts[1]) == 2 and parts[1].isalpha())


def _known(tag: str) -> bool:
    """Whether the tag's language has a name here (Django's languages), not just its code."""
    language = tag.partition("-")[0]
    return language_name(language) != language


def _language_and_region(tag: str) -> str:
    """A language tag as people read it, "en-US" as "English (US)": the language's name
    (language_name) and its region's code."""
    language, _sep, rest = tag.partition("-")
    if not language:
        return ""
    region = next((part for part in rest.split("-") if len(part) == 2 and part.isalpha()), "")
    name = language_name(language)
    return f"{name} ({region.upper()})" if region else name


def voice_for(user: User, requested: str | None = None, *, language: str = "") -> str:
    """The voice to speak in: the one asked for; else, of the person's preferred voice and the
    site's default, the first that speaks `language` (a document's BCP 47 tag); else the
    installed voice that speaks it best; else the person's preferred voice or the site's."""
    usual = user.preferred_voice or settings.SPEECH_DEFAULT_VOICE
    if requested or not language:
        return requested or usual
    available = all_voices()
    by_id = {voice.id: voice for voice in available}
    for candidate in (user.preferred_voice, settings.SPEECH_DEFAULT_VOICE):
        if candidate in by_id and speaks(by_id[candidate], language):
            return candidate
    speaking = [voice for voice in available if speaks(voice, language)]
    if speaking:
        # Stable: among voices as good as each other, the engines' configured order decides.
        return min(speaking, key=lambda voice: _closeness(voice.language, language)).id
    return usual


# Language subtags that name the same spoken language for a voice and a page: espeak-ng calls
# Mandarin "cmn" where detection says "zh", and Norwegian Bokmål "nb" where it says "no".
_SAME_LANGUAGE = {"cmn": "zh", "nb": "no", "fil": "tl"}


def _spoken(tag: str) -> str:
    language = tag.partition("-")[0].lower()
    return _SAME_LANGUAGE.get(language, language)


# Django names Chinese by its scripts only.
_DJANGO_NAMES = {"zh": "zh-hans"}


def speaks(voice: Voice, language: str) -> bool:
    """Whether `voice` speaks `language` (its language subtag; a region does not matter)."""
    return bool(language) and _spoken(voice.language) == _spoken(language)


def _closeness(voice_language: str, language: str) -> int:
    """0 for the very tag ("pt-BR" for "pt-BR"), 1 for the language's own country ("fr-FR" for
    "fr") or American English, 2 for the plain language ("es", "cmn"), 3 for any other variety."""
    voice_tag, wanted = voice_language.lower(), language.lower()
    if voice_tag == wanted:
        return 0
    primary = _spoken(wanted)
    if voice_tag in {f"{primary}-{primary}", "en-us" if primary == "en" else ""}:
        return 1
    return 2 if "-" not in voice_tag else 3


def language_warnings(voice_id: str, *, language: str) -> list[str]:
    """A sentence for people when the voice does not speak the text's language (a BCP 47 tag;
    nothing is said while it is unknown, or for a voice that is not installed)."""
    voice = next((voice for voice in all_voices() if voice.id == voice_id), None)
    if voice is None or not language or speaks(voice, language):
        return []
    return [
        _("The voice %(voice)s speaks %(voice_language)s; this text is in %(language)s.")
        % {
            "voice": display_name(voice),
            "voice_language": language_name(voice.language),
            "language": language_name(language),
        }
    ]


def language_name(tag: str) -> str:
    """A language's name in the person's language where Django knows it ("Arabic"), else its tag."""
    spoken = _spoken(tag)
    for code in (tag.lower(), spoken, _DJANGO_NAMES.get(spoken, "")):
        try:
            return str(get_language_info(code)["name_translated"])
        except KeyError:
            continue
    return tag


def reset_caches() -> None:
    """Forget built engines (tests that change SPEECH_ENGINES call this)."""
    get_engine.cache_clear()
    _voices_of.cache_clear()
    _display_name_in.cache_clear()
