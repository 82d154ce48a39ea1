"""Pagecast's django-allauth adapters (ACCOUNT_ADAPTER, SOCIALACCOUNT_ADAPTER)."""

from __future__ import annotations

import logging
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.base.constants import AuthError
from allauth.utils import build_absolute_uri
from django.http import Http404, HttpRequest
from django.urls import reverse

logger = logging.getLogger(__name__)


class AccountAdapter(DefaultAccountAdapter):
    def send_account_already_exists_mail(self, email: str) -> None:
        """The notice to the owner of an address someone tried to sign up with (web or API).
        allauth's offers only a password reset; most owners just forgot they have an account,
        so it offers logging in first."""
        request = context.request
        self.send_mail(
            "account/email/account_already_exists",
            email,
            {
                "login_url": build_absolute_uri(request, reverse("account_login")),
                "password_reset_url": build_absolute_uri(
                    request, reverse("account_reset_password")
                ),
            },
        )

    def get_password_change_redirect_url(self, request: HttpRequest) -> str:
        """Back to the settings, where "Change your password" was chosen; the message says it
        worked."""
        return reverse("settings")


class ProviderNotOffered(SocialApp.DoesNotExist, Http404):
    """A sign-in provider that is not switched on here.

    Its URLs exist all the same (the provider apps are always installed), so a visitor can ask
    for them: a 404. It stays a SocialApp.DoesNotExist for allauth's own code that catches that.
    """


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def get_app(self, request: HttpRequest, provider: str, client_id: str | None = None) -> Any:
        try:
            return super().get_app(request, provider, client_id=client_id)
        except SocialApp.DoesNotExist as exc:
            raise ProviderNotOffered(provider) from exc

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: Any = None,
        exception: BaseException | None = None,
        extra_context: dict[str, Any] | None = None,
    ) -> None:
        """allauth's error page says only that the sign-in failed; the log says why (a provider
        that could not be reached, a refused code, a forged state)."""
        super().on_authentication_error(
            request, provider, error=error, exception=exception, extra_context=extra_context
        )
        if error == AuthError.CANCELLED:
            return
        logger.warning(
            "Sign-in with %s failed on %s %s (%s): %s",
            getattr(provider, "id", "a provider"), request.method, request.path, error,
            exception or "no details",
        )  # fmt: skip
