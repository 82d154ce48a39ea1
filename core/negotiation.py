"""Content negotiation with a short way for what nearly every API request asks.

The API answers in JSON only. DRF's negotiation parses the Accept header and weighs each media
range on every request; a request that accepts anything (`*/*`, or no Accept header at all) or
asks for `application/json` by name, with no `?format=`, gets the one JSON renderer directly,
exactly as DRF would pick it. Anything else (another media type, quality values, a format
override, a view with several renderers) goes through DRF's own negotiation, 406 included.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

# Accept headers whose choice among JSON renderers is the first renderer with its own type.
_ANY = frozenset({"", "*/*"})


class JSONFirstNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, Any]:
        renderers = list(renderers)
        if len(renderers) == 1 and not format_suffix:
            renderer = renderers[0]
            accept = request.META.get("HTTP_ACCEPT", "").strip()
            if (
                accept in _ANY or accept == renderer.media_type
            ) and self.settings.URL_FORMAT_OVERRIDE not in request.query_params:
                return renderer, renderer.media_type
        return super().select_renderer(request, renderers, format_suffix)
