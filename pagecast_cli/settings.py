"""Django settings for the `pagecast` command: the service's settings without its servers.

The command uses the same extractors, engines and encoder as the service, configured by the same
environment variables (PIPER_VOICES_DIR, PIPER_THREADS, SPEECH_DEFAULT_VOICE, OCR_ENABLED,
DOCUMENT_MAX_PAGES...). It needs no database, broker, cache or data folder: no app with models
is installed, and a query would fail at once instead of creating a database somewhere.
"""

import os
import secrets

# The service keeps a per-installation key in DATA_DIR; the command signs nothing, so a key for
# this run is enough, and nothing is written to a data folder.
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))

from core.settings.base import *  # noqa: F403

# Translations (error messages) need the app registry; none of these apps has a model.
INSTALLED_APPS = []
MIDDLEWARE = []
DATABASES = {}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
# The command configures its own logging (quiet by default, -v for more).
LOGGING_CONFIG = None
