"""Settings for the test suite.

SQLite in memory unless DATABASE_URL points at PostgreSQL; an in-memory broker with tasks run
eagerly unless a test starts a real worker; files under a temporary folder.
"""

import os
import tempfile
from pathlib import Path

# Every test run gets its own data directory, so nothing touches the developer's `var/`.
TEST_DATA_DIR = Path(tempfile.mkdtemp(prefix="pagecast-test-"))
os.environ["DATA_DIR"] = str(TEST_DATA_DIR)
os.environ.setdefault("SECRET_KEY", "test-" + "x" * 60)

from core.settings.base import *  # noqa: E402, F403
from core.settings.base import (  # noqa: E402
    CELERY_BROKER_TRANSPORT_OPTIONS,
    DATABASES,
    STORAGES,
)
from core.settings.env import env_str  # noqa: E402

DEBUG = False
MEDIA_ROOT = TEST_DATA_DIR / "media"
STORAGES = {
    **STORAGES,
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": "/protected-media/"},
    },
}
if not os.environ.get("DATABASE_URL"):
    DATABASES["default"] = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(TEST_DATA_DIR / "db.sqlite3"),
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        "TEST": {"NAME": str(TEST_DATA_DIR / "test-db.sqlite3")},
    }
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "fragments": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "f"},
}

# A real broker only when CELERY_BROKER_URL is set (CI points it at Redis); tests that need one
# are marked `broker` and skipped otherwise.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "memory://")
if not CELERY_BROKER_URL.startswith("redis"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = dict(CELERY_BROKER_TRANSPORT_OPTIONS)
CELERY_TASK_ALWAYS_EAGER = True
# Worker processes that tests start report in (core/tests/worker_settings.py turns it on).
WORKER_HEARTBEAT_SECONDS = 0
CELERY_TASK_EAGER_PROPAGATES = True

STATIC_ROOT = TEST_DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# Tests speak with the deterministic fake engine unless they ask for Piper.
SPEECH_ENGINES = {**SPEECH_ENGINES, "fake": {}}  # noqa: F405
SPEECH_DEFAULT_VOICE = "fake:alpha"
