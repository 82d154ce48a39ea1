"""Middleware that keeps API answers in the error envelope even outside DRF views, and answers a
full disk with 503 on every page."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from core.api_errors import is_api_request, out_of_space_response
from core.security_utils import safe_error_response


class ApiExceptionMiddleware:
    """An exception escaping a view on an API path becomes a 500 envelope with an error id; a
    full disk, database or quota becomes a 503 (the envelope, or a page in the web UI).

    Failures after the view (a session that cannot be saved) reach `handler500`, which gives
    the same 503 answer for a full disk.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        full = out_of_space_response(exception, request)
        if full is not None:
            return full
        if not is_api_request(request):
            return None
        return safe_error_response(exception, request=request)
