"""Account actions: register, issue and revoke API tokens, react to a new password, change
preferences."""

from __future__ import annotations

import hashlib

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from core.exceptions import ValidationError
from users.authentication import token_expired
from users.models import User, normalize_email
from users.selectors import email_taken

# As long as allauth waits before sending another confirmation mail to one address.
_NOTICE_COOLDOWN_SECONDS = 180


def register_user(*, email: str, password: str, request: HttpRequest) -> str:
    """Sign someone up, answering the same whether or not the address already has an account.

    A new address gets an account and a confirmation link. An address that already has an
    account gets a notice to its owner instead (someone tried to sign up; log in or reset the
    password), and nothing is created. Either way the caller learns only the normalised address,
    so registering cannot be used to find out who has an account.
    """
    email = normalize_email(email)
    try:
        validate_password(password, user=User(email=email))
    except DjangoValidationError as exc:
        raise ValidationError(exc.messages[0], fields={"password": list(exc.messages)}) from exc
    if email_taken(email=email):
        _answer_taken_address(email=email, password=password)
        return email
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password)
            EmailAddress.objects.create(user=user, email=email, primary=True, verified=False)
    except IntegrityError:
        # Two registrations for one address at once: the unique constraint decides.
        _answer_taken_address(email=email, password=password)
        return email
    send_email_confirmation(user=user, request=request)
    return email


def _answer_taken_address(*, email: str, password: str) -> None:
    # Hash the password as a real sign-up would, so the answer takes as long (Django's log-in
    # does the same for unknown users).
    make_password(password)
    # One notice per address per cooldown, whoever asks: registering cannot flood an inbox.
    digest = hashlib.sha256(email.encode()).hexdigest()
    if cache.add(f"account-exists-notice:{digest}", True, timeout=_NOTICE_COOLDOWN_SECONDS):
        get_account_adapter().send_account_already_exists_mail(email)


def send_email_confirmation(*, user: User, request: HttpRequest) -> None:
    """Email a confirmation link, unless verification is switched off."""
    if settings.ACCOUNT_EMAIL_VERIFICATION == "none":
        return
    address = EmailAddress.objects.get_primary(user)
    if address is not None and not address.verified:
        address.send_confirmation(request, signup=True)


def issue_token(*, email: str, password: str) -> Token:
    """The API token for valid credentials. The error never says which of the two was wrong."""
    user = authenticate(username=normalize_email(email), password=password)
    if user is None or not user.is_active:
        raise ValidationError(_("Unable to log in with the email address and password given."))
    if (
        settings.ACCOUNT_EMAIL_VERIFICATION == "mandatory"
        and not EmailAddress.objects.filter(user=user, verified=True).exists()
    ):
        raise ValidationError(_("Please confirm your email address before logging in."))
    token, _created = Token.objects.get_or_create(user=user)
    if token_expired(token):
        token.delete()
        token = Token.objects.create(user=user)
    return token


def revoke_token(*, user: User) -> None:
    Token.objects.filter(user=user).delete()


def password_changed(*, user: User) -> None:
    """After a change, reset or first setting of the password: every API token of the account
    stops working, so whoever held one must log in with the new password.

    Its other browser sessions have stopped working already: Django ties each session to the
    password hash, and the view making the change re-ties only its own session.
    """
    revoke_token(user=user)


def update_preferences(*, user: User, preferred_voice: str | None = None) -> User:
    fields = []
    if preferred_voice is not None:
        user.preferred_voice = preferred_voice
        fields.append("preferred_voice")
    if fields:
        user.save(update_fields=fields)
    return user
