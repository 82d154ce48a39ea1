"""Benchmark settings: the embedded default (or PostgreSQL via DATABASE_URL) in a scratch dir."""

import os
import tempfile

# Always a scratch folder: `make` exports DATA_DIR for `make run`, and a benchmark must never
# write into a real installation's data.
os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="pagecast-bench-")

from core.settings.base import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "ERROR"}}

(DATA_DIR / "static").mkdir(parents=True, exist_ok=True)  # noqa: F405
