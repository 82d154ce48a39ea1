"""Reactions to changes of accounts; each hands over to a service at once."""

from __future__ import annotations

from typing import Any

from users import services
from users.models import User


def revoke_credentials_on_new_password(
    sender: type[User], instance: User, created: bool, **kwargs: Any
) -> None:
    # Every way of changing a password ends in set_password() and save(): allauth's change,
    # reset and set views, the admin's password forms, `manage.py changepassword`. Django keeps
    # the new raw password on the instance until save() has passed it to its own
    # password_changed() hook, and clears it for mere hash upgrades at log-in, so this one
    # place sees every real change and nothing else.
    if created or getattr(instance, "_password", None) is None:
        return
    services.password_changed(user=instance)
