"""The web UI's error pages (400, 403, 404, 500 and a refused form), in the site's layout.

Every page says what happened and links back to the library. The layout needs the database
(the signed-in person, the session): when it cannot be drawn, as when the database is down, a
plain page with the same words and link is sent instead. API paths never come here; they answer
with the envelope of API.md (core.api_errors).
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

from core.security_utils import new_error_id

logger = logging.getLogger("pagecast.errors")


def bad_request(request: HttpRequest) -> HttpResponse:
    return _page(request, status=400, template="400.html")


def permission_denied(request: HttpRequest) -> HttpResponse:
    return _page(request, status=403, template="403.html")


def not_found(request: HttpRequest) -> HttpResponse:
    return _page(request, status=404, template="404.html")


def server_error(request: HttpRequest) -> HttpResponse:
    # The exception was logged by Django's request handling; this id ties the page to a log
    # line that names the path, and a person can quote it.
    error_id = new_error_id()
    logger.error("Unhandled server error %s on %s %s", error_id, request.method, request.path)
    return _page(request, status=500, template="500.html", context={"error_id": error_id})


def csrf_failure(request: HttpRequest) -> HttpResponse:
    return _page(request, status=403, template="403_csrf.html")


def _page(
    request: HttpRequest, *, status: int, template: str, context: dict[str, object] | None = None
) -> HttpResponse:
    body: str
    try:
        body = render_to_string(template, context or {}, request=request)
    except Exception:
        logger.warning("The %s page could not be drawn in the site's layout", status)
        body = _plain(status)
    return HttpResponse(body, status=status)


_PLAIN_MESSAGES = {
    400: lambda: _("This request could not be understood."),
    403: lambda: _("You do not have permission to see this page."),
    404: lambda: _("This page does not exist, or it is not yours to see."),
    500: lambda: _("Something went wrong on our side. Please try again later."),
}


def _plain(status: int) -> str:
    try:
        library = reverse("library")
    except Exception:
        library = "/"
    return format_html(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Pagecast</title>'
        '</head><body><main><h1>{}</h1><p><a href="{}">{}</a></p></main></body></html>',
        _PLAIN_MESSAGES.get(status, _PLAIN_MESSAGES[500])(),
        library,
        _("Back to your library"),
    )
