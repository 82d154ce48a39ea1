"""`{{ seconds|clock }}`: a time in audio as the player shows it (m:ss, h:mm:ss from an hour)."""

from __future__ import annotations

from django import template

from web.reader import duration_label

register = template.Library()


@register.filter
def clock(seconds: float | None) -> str:
    return duration_label(seconds)
