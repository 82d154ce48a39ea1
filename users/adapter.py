"""Pagecast's django-allauth adapter (ACCOUNT_ADAPTER)."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from allauth.utils import build_absolute_uri
from django.urls import reverse


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
