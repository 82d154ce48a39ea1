"""Benchmark settings: the embedded default (or PostgreSQL via DATABASE_URL) in a scratch dir.

A benchmark never writes into a real installation: the data folder is always a fresh temporary
one, and on PostgreSQL `bench.run` creates (and afterwards drops) a scratch database beside the
one DATABASE_URL names. The servers and workers a benchmark starts share the parent's scratch
folder and database through BENCH_DATA_DIR and BENCH_DATABASE_NAME.
"""

import os
import tempfile

# Always a scratch folder: `make` exports DATA_DIR for `make run`, and a benchmark must never
# write into a real installation's data.
os.environ["DATA_DIR"] = os.environ.get("BENCH_DATA_DIR") or tempfile.mkdtemp(
    prefix="pagecast-bench-"
)

from core.settings.base import *  # noqa: F403
from core.settings.base import DATABASES

ROOT_URLCONF = "bench.urls"
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "ERROR"}}

if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    # The scratch database `bench.run` creates and drops (Django's test-database machinery).
    DATABASES["default"]["TEST"] = {"NAME": f"{DATABASES['default']['NAME']}_benchrun"}
    if os.environ.get("BENCH_DATABASE_NAME"):
        DATABASES["default"]["NAME"] = os.environ["BENCH_DATABASE_NAME"]

(DATA_DIR / "static").mkdir(parents=True, exist_ok=True)  # noqa: F405
