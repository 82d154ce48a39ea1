"""Never pay twice: audio is addressed by what it says and how, and an exact twin is reused.

An audio's `content_hash` covers the normalised text the engine reads, the voice, the engine,
the engine options that change the sound, and the pipeline's own settings (bit rate, encoder
quality, pauses). Asking for audio whose twin is already made, and still stored, reuses the
twin's file: nothing is synthesised and the page's quota is not charged.

A twin is looked for only among documents the caller may already see (their own and those
shared with them). Reuse is instant, and that speed alone would tell a stranger that someone
else has had this very text read, so it never crosses to people who share nothing.

A stored file may then belong to several audio rows. It is removed only when no row names it
any more: `stored_files_in_use` is asked by `delete_stored_files` (setting
STORED_FILE_IN_USE) just before files are deleted, after the rows were changed or removed;
the twin is locked while it is copied, so a reuse and a deletion cannot cross.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from operations.site_settings import site_settings
from sharing.policy import visible_documents
from speech_processing.encoding import EncoderOptions
from speech_processing.engines.base import Voice
from speech_processing.models import Audio
from speech_processing.synthesis import PauseOptions, text_digest
from speech_processing.text import normalize_for_speech_with_sources, split_sentences
from users.models import User

# Raise when the pipeline changes what it makes from the same inputs (audio made before is then
# no longer anyone's twin).
PIPELINE_VERSION = 1
# Engine options that change nothing in the sound (or are secrets, which are not hashed at all).
_NOT_SOUND = re.compile(r"key|secret|token|password|thread|timeout|attempt|url|region|spinning")


def speech_language(voice: Voice) -> str:
    """The language the pipeline normalises and splits in for this voice."""
    return voice.language.split("-")[0] or "en"


def content_hash(*, text: str, voice: Voice) -> str:
    """What audio of `text` in `voice` would be made of, as a SHA-256."""
    spoken = normalize_for_speech_with_sources(text, language=speech_language(voice)).text
    return spoken_content_hash(spoken=spoken, voice=voice)


def spoken_content_hash(*, spoken: str, voice: Voice) -> str:
    """`content_hash` from the normalised text itself (what synthesis reports it spoke)."""
    language = speech_language(voice)
    options = settings.SPEECH_ENGINES.get(voice.engine, {})
    sound = {key: value for key, value in options.items() if not _NOT_SOUND.search(key)}
    recipe = {
        "version": PIPELINE_VERSION,
        "text": spoken,
        "language": language,
        "voice": voice.id,
        "engine": voice.engine,
        "engine_options": sound,
        "bitrate_kbps": settings.AUDIO_MP3_BITRATE_KBPS,
        "quality": EncoderOptions().quality,
        "pauses": asdict(PauseOptions()),
    }
    encoded = json.dumps(recipe, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(encoded.encode("utf-8", "surrogatepass")).hexdigest()


def find_twin(*, user: User, digest: str) -> Audio | None:
    """A made, stored audio with this content hash in a document the user may see, locked
    until the transaction ends (so its file cannot be deleted while it is being shared)."""
    return (
        Audio.objects.select_for_update(of=("self",))
        .filter(
            content_hash=digest,
            status=Audio.Status.COMPLETED,
            lifetime_status=Audio.Lifetime.ACTIVE,
            page__document__in=visible_documents(user).values("pk"),
        )
        .exclude(file_key="")
        .order_by("-completed_at", "-pk")
        .first()
    )


def timings_for_text(twin: Audio, *, text: str, voice: Voice) -> list[dict[str, Any]] | None:
    """The twin's sentence timings moved onto `text` (the same spoken words, perhaps written
    differently), or None when they cannot be (a twin from before timings were kept)."""
    language = speech_language(voice)
    mapped = normalize_for_speech_with_sources(text, language=language)
    sentences = split_sentences(mapped.text, language=language)
    spans = mapped.source_spans((s.char_start, s.char_end) for s in sentences)
    timings = list(twin.timings or [])
    if len(timings) != len(spans):
        return None
    return [
        {"start": timing["start"], "end": timing["end"], "char_start": start, "char_end": end}
        for timing, (start, end) in zip(timings, spans, strict=True)
    ]


def complete_from_twin(
    *, audio: Audio, twin: Audio, text: str, timings: list[dict[str, Any]]
) -> None:
    """Make `audio` (just created, pending) a completed copy of `twin`, sharing its file."""
    now = timezone.now()
    Audio.objects.filter(pk=audio.pk).update(
        status=Audio.Status.COMPLETED,
        reused=True,
        file_key=twin.file_key,
        duration_seconds=twin.duration_seconds,
        size_bytes=twin.size_bytes,
        timings=timings,
        text_digest=text_digest(text),
        started_at=now,
        completed_at=now,
        expires_at=now + timedelta(days=site_settings().audio_retention_days),
        updated_at=now,
    )
    audio.refresh_from_db()


def stored_files_in_use(keys: Iterable[str]) -> set[str]:
    """Those of `keys` that an audio row still names (they must stay)."""
    wanted = [key for key in keys if key]
    if not wanted:
        return set()
    return set(Audio.objects.filter(file_key__in=wanted).values_list("file_key", flat=True))
