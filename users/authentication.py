"""API token authentication with an expiry.

A token stops working `API_TOKEN_TTL_DAYS` after it was issued (0 keeps tokens until log-out).
An expired token is deleted on first use, so asking for a token again issues a fresh one.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from core.compiled import CompiledQuery


def token_expired(token: Token) -> bool:
    ttl_days: int = settings.API_TOKEN_TTL_DAYS
    if ttl_days == 0:
        return False
    return token.created <= timezone.now() - timedelta(days=ttl_days)


# Keys are 40 hex digits (DRF's Token); anything else is refused before the database is asked
# (PostgreSQL cannot even compare a string holding NUL).
_KEY = re.compile(r"[0-9a-f]{40}")


# Every API request but a browser's looks its token up: compiled once (core.compiled).
_TOKEN = CompiledQuery(lambda key: Token.objects.select_related("user").filter(key=key), key=str)


class ExpiringTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        if not _KEY.fullmatch(key):
            raise AuthenticationFailed(_("Invalid token."))
        token = _TOKEN.first(key=key)
        if token is None:
            raise AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        user = token.user
        if token_expired(token):
            token.delete()
            raise AuthenticationFailed(_("The token has expired. Log in again for a new one."))
        return user, token
