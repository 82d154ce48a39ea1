"""Settings for a gunicorn that a test starts as a separate process.

The embedded defaults over the data directory the test puts in the environment, with nothing
else to start: the cache in each process's memory, and queued tasks kept in memory (no worker
runs them).
"""

from core.settings.dev import *  # noqa: F403

CACHES = {**CACHES, "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}  # noqa: F405
CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
