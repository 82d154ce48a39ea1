"""Sign-in provider failures that django-allauth lets escape from its views."""

from __future__ import annotations

from collections.abc import Callable

import requests
from allauth.socialaccount.helpers import render_authentication_error
from django.http import HttpRequest, HttpResponse


class SocialSignInErrorsMiddleware:
    """A provider that cannot be reached is allauth's authentication-error page, not a 500.

    allauth answers a failed call to a provider with that page during the token exchange only.
    OpenID Connect also fetches its provider's configuration when a log-in starts and when the
    provider sends the person back, outside that; those failures are answered here the same
    way (SocialAccountAdapter.on_authentication_error logs the cause).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, requests.RequestException) and _is_social_sign_in(request):
            # The provider is not at hand here; the path in the log line names it.
            return render_authentication_error(request, None, exception=exception)
        return None


def _is_social_sign_in(request: HttpRequest) -> bool:
    match = request.resolver_match
    view_module = getattr(match.func, "__module__", "") if match is not None else ""
    return view_module.startswith("allauth.socialaccount.")
