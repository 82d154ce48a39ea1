"""Reactions to accounts signing in and confirming addresses; each hands over to a service."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest

from sharing import invitations
from sharing.audit import record_accepted
from users.models import User

logger = logging.getLogger(__name__)


def accept_on_confirmation(sender: Any, request: HttpRequest | None, email_address: Any,
                           **kwargs: Any) -> None:  # fmt: skip
    """allauth's `email_confirmed`: the person now shows they own the address."""
    _accept(request, email_address.user)


def accept_on_login(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    """Django's `user_logged_in`: a person with a confirmed address (one who signed up with a
    provider that vouches for it, or was invited after confirming it) finds the share there."""
    _accept(request, user)


def _accept(request: HttpRequest | None, user: User) -> None:
    # Signing in and confirming an address go ahead even when this cannot be done now: the
    # invitation stays, and the next log-in or the invitation's link tries again.
    try:
        shares = invitations.accept_invitations(user=user)
    except Exception:
        logger.exception("Could not accept the invitations of user %s", user.pk)
        return
    record_accepted(request, user=user, shares=shares)
