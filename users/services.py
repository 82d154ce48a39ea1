"""Account actions: register, issue and revoke API tokens, change preferences."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from core.exceptions import ValidationError
from users.authentication import token_expired
from users.models import User, normalize_email
from users.selectors import email_taken

_DUPLICATE_EMAIL = _("An account with this email address already exists.")


def register_user(*, email: str, password: str) -> User:
    """Create an account. The email is unique without regard to case."""
    email = normalize_email(email)
    if email_taken(email=email):
        raise ValidationError(_DUPLICATE_EMAIL, fields={"email": [_DUPLICATE_EMAIL]})
    candidate = User(email=email)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise ValidationError(exc.messages[0], fields={"password": list(exc.messages)}) from exc
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password)
            EmailAddress.objects.create(user=user, email=email, primary=True, verified=False)
    except IntegrityError as exc:
        # Two registrations for one address at once: the unique constraint decides.
        raise ValidationError(_DUPLICATE_EMAIL, fields={"email": [_DUPLICATE_EMAIL]}) from exc
    return user


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


def update_preferences(*, user: User, preferred_voice: str | None = None) -> User:
    fields = []
    if preferred_voice is not None:
        user.preferred_voice = preferred_voice
        fields.append("preferred_voice")
    if fields:
        user.save(update_fields=fields)
    return user
