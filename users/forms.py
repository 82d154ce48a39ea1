"""Pagecast's django-allauth forms (ACCOUNT_FORMS): its sign-up, and every form in the site's
words (sentence case, no colon after a label)."""

from __future__ import annotations

from typing import Any, ClassVar

from allauth.account import app_settings as account_settings
from allauth.account import forms as allauth_forms
from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.account.utils import complete_signup, get_next_redirect_url, perform_login
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.http import HttpRequest, HttpResponse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from users.selectors import email_taken

_MANDATORY = account_settings.EmailVerificationMethod.MANDATORY


def _hides_existing_accounts() -> bool:
    # Without email verification a new account is logged in at once, which a taken address
    # cannot be: the difference cannot be hidden, so allauth's "already registered" stays.
    return settings.ACCOUNT_EMAIL_VERIFICATION != "none"


class SiteWording:
    """allauth's labels as the rest of the site writes them: "Remember me", not "Remember Me:".
    `labels` renames fields (and their placeholders, which allauth sets to the label)."""

    labels: ClassVar[dict[str, Promise]] = {}
    fields: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        for name, label in self.labels.items():
            field = self.fields.get(name)
            if field is None:
                continue
            field.label = label
            if "placeholder" in field.widget.attrs:
                field.widget.attrs["placeholder"] = label


class LoginForm(SiteWording, allauth_forms.LoginForm):
    labels = {"remember": _("Remember me")}


class ChangePasswordForm(SiteWording, allauth_forms.ChangePasswordForm):
    labels = {
        "oldpassword": _("Current password"),
        "password1": _("New password"),
        "password2": _("New password (again)"),
    }


class SetPasswordForm(SiteWording, allauth_forms.SetPasswordForm):
    pass


class ResetPasswordForm(SiteWording, allauth_forms.ResetPasswordForm):
    pass


class ResetPasswordKeyForm(SiteWording, allauth_forms.ResetPasswordKeyForm):
    labels = {"password1": _("New password"), "password2": _("New password (again)")}


class AddEmailForm(SiteWording, allauth_forms.AddEmailForm):
    pass


class ReauthenticateForm(SiteWording, allauth_forms.ReauthenticateForm):
    pass


class SignupForm(SiteWording, AllauthSignupForm):
    """Sign-up that ends on the same "check your email" page whether or not the address
    already has an account.

    allauth hides a taken address only under mandatory email verification (it then emails the
    owner instead and shows that page). With optional verification a new account would be
    logged in straight away, which tells the two apart; so sign-up here always runs as under
    mandatory verification. The new account still logs in at once with its password
    (verification stays optional for logging in), and opening the confirmation link in the
    same browser logs it in too.
    """

    def validate_unique_email(self, value: str) -> str:
        if not _hides_existing_accounts():
            return str(super().validate_unique_email(value))
        self.account_already_exists = email_taken(email=value)
        return value

    def try_save(self, request: HttpRequest) -> tuple[Any, HttpResponse | None]:
        if not _hides_existing_accounts():
            return super().try_save(request)
        if self.account_already_exists:
            # As long as a real sign-up takes (it hashes the password too).
            make_password(self.cleaned_data.get("password1"))
            # allauth's own answer for a taken address: a pretend log-in that emails the owner
            # and shows the "check your email" page.
            email = self.cleaned_data["email"]
            response = perform_login(
                request, None, email_verification=_MANDATORY, signup=True, email=email
            )
            return None, response
        user = self.save(request)
        response = complete_signup(
            request,
            user=user,
            email_verification=_MANDATORY,
            success_url=get_next_redirect_url(request),
        )
        return user, response
