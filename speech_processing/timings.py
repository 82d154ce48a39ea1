"""Read-along: an audio's sentence timings, as JSON rows or as a WebVTT file.

Each timing is ``{start, end, char_start, char_end}``: seconds into the audio, and character
offsets into the page's plain ``text`` (the field the page API returns as ``text``, not its
Markdown or HTML) as it was when the audio was made. The audio keeps the SHA-256 of that text;
when the page has been edited since (the audio is ``outdated``), its timings would point at the
wrong words, so none are served: the answer is an empty list (an empty WebVTT file), not an
error, because the audio itself still plays. A player loading an outdated audio gets a normal
answer on every load and plays it without highlighting; the audio's ``outdated`` field says
why, and generating in its voice replaces it.

While an audio is being made its finished sentences are already recorded, so the list grows
until the audio is complete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from core.exceptions import Conflict, NotFound
from sharing.policy import Action, require
from speech_processing.models import Audio
from speech_processing.selectors import is_outdated
from users.models import User

_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class AudioTimings:
    timings: list[dict[str, Any]]
    text: str  # the page text the character offsets index
    outdated: bool = False  # the page changed since: no timings


def audio_timings(*, user: User, audio: Audio) -> AudioTimings:
    """The sentence timings of an audio the user may listen to (found by ``audio_detail``)."""
    require(user, Action.VIEW, audio.page.document)
    if audio.lifetime_status != Audio.Lifetime.ACTIVE:
        raise NotFound(_("This audio is no longer available."))
    if audio.status == Audio.Status.FAILED:
        raise Conflict(_("This audio could not be made, so it has no timings."))
    text = audio.page.text
    if is_outdated(audio, page_text=text):
        return AudioTimings(timings=[], text=text, outdated=True)
    return AudioTimings(timings=list(audio.timings or []), text=text)


def webvtt(timings: list[dict[str, Any]], text: str) -> str:
    """A WebVTT file with one cue per sentence, its words taken from ``text``."""
    lines = ["WEBVTT", ""]
    for number, timing in enumerate(timings, start=1):
        words = _cue_text(text[int(timing["char_start"]) : int(timing["char_end"])])
        if not words:
            continue
        lines += [
            str(number),
            f"{timestamp(float(timing['start']))} --> {timestamp(float(timing['end']))}",
            words,
            "",
        ]
    return "\n".join(lines)


def timestamp(seconds: float) -> str:
    """Seconds as a WebVTT timestamp, hh:mm:ss.ttt."""
    millis = max(round(seconds * 1000), 0)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def _cue_text(words: str) -> str:
    # One line per cue (a blank line would end it), and cue text is markup: escape it, which
    # also keeps a "-->" in the page from reading as a timing line.
    flat = _WHITESPACE.sub(" ", words).strip()
    return flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
