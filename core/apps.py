"""The core app's start-up: a log-in goes ahead when its time cannot be recorded."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig

from core.storage_errors import unless_out_of_space


def update_last_login_if_possible(sender: Any, user: Any, **kwargs: Any) -> None:
    """Django's `update_last_login`, except that a full disk does not stop the log-in: the
    time of the last log-in is a nicety, signing in is not."""
    from django.contrib.auth.models import update_last_login

    with unless_out_of_space(f"the log-in time of user {user.pk}"):
        update_last_login(sender, user, **kwargs)


class CoreConfig(AppConfig):
    name = "core"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        # django.contrib.auth (earlier in INSTALLED_APPS) connected its own under this id.
        if user_logged_in.disconnect(dispatch_uid="update_last_login"):
            user_logged_in.connect(update_last_login_if_possible, dispatch_uid="update_last_login")
