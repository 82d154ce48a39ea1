from __future__ import annotations

from allauth.account.models import EmailAddress

from users.models import User, normalize_email


def email_taken(*, email: str) -> bool:
    """Whether an account already uses the address, as its login or as one of its addresses
    (the same question allauth's sign-up asks)."""
    email = normalize_email(email)
    return (
        User.objects.filter(email__iexact=email).exists()
        or EmailAddress.objects.filter(email__iexact=email).exists()
    )
