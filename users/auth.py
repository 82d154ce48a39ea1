from __future__ import annotations

from typing import cast

from rest_framework.request import Request

from users.models import User


def current_user(request: Request) -> User:
    """The caller of a view that requires authentication (DRF has already refused anonymity)."""
    return cast(User, request.user)
