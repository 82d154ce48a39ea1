"""Limits on account endpoints: per client address and per account being tried."""

from __future__ import annotations

import hashlib

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from users.models import normalize_email


class RegisterThrottle(SimpleRateThrottle):
    scope = "register"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginIPThrottle(RegisterThrottle):
    scope = "login_ip"


class LoginAccountThrottle(SimpleRateThrottle):
    """Slows password guessing against one account, whatever address it comes from."""

    scope = "login_account"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        data = request.data if isinstance(request.data, dict) else {}
        email = data.get("email")
        if not isinstance(email, str) or not email:
            return None
        # Hashed: an email can be longer than a cache key may be.
        digest = hashlib.sha256(normalize_email(email).encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": digest}


class DeleteAccountThrottle(UserRateThrottle):
    """Deleting an account checks its password: guesses there count like log-in attempts."""

    scope = "login_account"
