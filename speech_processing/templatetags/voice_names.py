"""`{{ audio.voice|voice_name }}`: a stored voice id as people see it, the same name everywhere."""

from __future__ import annotations

from django import template

from speech_processing.voices import display_name_of

register = template.Library()


@register.filter
def voice_name(voice_id: str) -> str:
    """The display name of the voice with this id ("Joe (English (US), Piper, medium)")."""
    return display_name_of(voice_id) if voice_id else ""
