"""Django for the command: settings only, no database; done once, only by commands that need it.

`pagecast serve`, `login`, `upload` and `listen` never load Django here; `convert` and `voices`
need its settings (the engines, voices and limits the service uses) and its translations.
"""

from __future__ import annotations

import os

DEFAULT_SETTINGS_MODULE = "pagecast_cli.settings"


class SettingsError(Exception):
    """The environment holds a bad setting; the message names the variable."""


def setup_django() -> None:
    """Configure Django from DJANGO_SETTINGS_MODULE, by default the command's own settings."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", DEFAULT_SETTINGS_MODULE)
    import django
    from django.apps import apps
    from django.core.exceptions import ImproperlyConfigured

    if apps.ready:
        return
    try:
        django.setup(set_prefix=False)
    except ImproperlyConfigured as exc:
        # The settings' typed readers say which variable is wrong and what it should be.
        raise SettingsError(str(exc)) from exc
