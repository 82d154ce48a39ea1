from __future__ import annotations

from users.models import User, normalize_email


def email_taken(*, email: str) -> bool:
    return User.objects.filter(email__iexact=normalize_email(email)).exists()
