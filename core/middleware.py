"""Middleware that keeps API answers in the error envelope even outside DRF views."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from core.api_errors import is_api_request
from core.security_utils import safe_error_response


class ApiExceptionMiddleware:
    """An exception escaping a view on an API path becomes a 500 envelope with an error id."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api_request(request):
            return None
        return safe_error_response(exception, request=request)
