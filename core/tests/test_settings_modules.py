"""Each settings module is imported in a fresh interpreter, as a deployment would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core import embedded_broker

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "k" + "".join(chr(ord("a") + i % 26) for i in range(60))


def run_python(code: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    base = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO")}
    for key in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL"):
        base.pop(key, None)
    base.update({"DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}, **env)
    return subprocess.run(
        [sys.executable, "-c", code], env=base, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


SETUP = "import django; django.setup(); from django.conf import settings; "


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without(missing: str, tmp_path: Path) -> None:
    env = {
        "DJANGO_SETTINGS_MODULE": "core.settings.production",
        "SECRET_KEY": GOOD_KEY,
        "ALLOWED_HOSTS": "pagecast.example",
    }
    del env[missing]
    result = run_python(SETUP, env, tmp_path)
    assert result.returncode != 0
    assert missing in result.stderr


def test_a_bad_value_stops_start_up_naming_the_variable(tmp_path: Path) -> None:
    result = run_python(
        SETUP,
        {"DJANGO_SETTINGS_MODULE": "core.settings.dev", "CELERY_TASK_TIME_LIMIT": "soon"},
        tmp_path,
    )
    assert result.returncode != 0
    assert "CELERY_TASK_TIME_LIMIT" in result.stderr


def test_production_passes_the_deployment_checklist(tmp_path: Path) -> None:
    env = {
        "DJANGO_SETTINGS_MODULE": "core.settings.production",
        "SECRET_KEY": GOOD_KEY,
        "ALLOWED_HOSTS": "pagecast.example",
    }
    base = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL",)}
    base.update(env, DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=base,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_embedded_default_uses_sqlite_wal_local_files_and_the_embedded_valkey(
    tmp_path: Path,
) -> None:
    code = SETUP + (
        "import json; db = settings.DATABASES['default']; print(json.dumps({"
        "'engine': db['ENGINE'], 'name': str(db['NAME']), 'options': db['OPTIONS'],"
        "'storage': settings.STORAGES['default']['BACKEND'],"
        "'location': settings.STORAGES['default']['OPTIONS']['location'],"
        "'broker': settings.CELERY_BROKER_URL,"
        "'cache': settings.CACHES['default']}))"
    )
    result = run_python(code, {"DJANGO_SETTINGS_MODULE": "core.settings.dev"}, tmp_path)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout.strip().splitlines()[-1])
    assert config["engine"] == "django.db.backends.sqlite3"
    assert config["name"] == str(tmp_path / "db.sqlite3")
    assert "journal_mode=WAL" in config["options"]["init_command"]
    assert config["options"]["transaction_mode"] == "IMMEDIATE"
    assert config["options"]["timeout"] >= 5
    assert config["storage"] == "django.core.files.storage.FileSystemStorage"
    assert config["location"] == str(tmp_path / "media")
    # Celery and the cache share the Valkey server on a socket under DATA_DIR.
    socket = embedded_broker.socket_path(tmp_path)
    assert config["broker"] == f"redis+socket://{socket}?virtual_host=0"
    assert config["cache"] == {
        "BACKEND": "core.cache.RedisCache",
        "LOCATION": f"unix://{socket}?db=1",
    }


def test_scaled_out_settings_come_from_the_environment(tmp_path: Path) -> None:
    code = SETUP + (
        "import json; o = settings.STORAGES['default']['OPTIONS']; print(json.dumps({"
        "'engine': settings.DATABASES['default']['ENGINE'],"
        "'storage': settings.STORAGES['default']['BACKEND'], 'bucket': o['bucket_name'],"
        "'endpoint': o['endpoint_url'], 'sig': o['signature_version'],"
        "'broker': settings.CELERY_BROKER_URL,"
        "'visibility': settings.CELERY_BROKER_TRANSPORT_OPTIONS.get('visibility_timeout')}))"
    )
    env = {
        "DJANGO_SETTINGS_MODULE": "core.settings.dev",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/pagecast",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/5",
        "STORAGE_BACKEND": "s3",
        "AWS_STORAGE_BUCKET_NAME": "pagecast-media",
        "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
    }
    result = run_python(code, env, tmp_path)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout.strip().splitlines()[-1])
    assert config == {
        "engine": "django.db.backends.postgresql",
        "storage": "core.storage.S3Storage",
        "bucket": "pagecast-media",
        "endpoint": "http://127.0.0.1:9000",
        "sig": "s3v4",
        "broker": "redis://127.0.0.1:6379/5",
        "visibility": 30 * 60 + 300,
    }


def test_s3_without_a_bucket_names_the_missing_variable(tmp_path: Path) -> None:
    result = run_python(
        SETUP, {"DJANGO_SETTINGS_MODULE": "core.settings.dev", "STORAGE_BACKEND": "s3"}, tmp_path
    )
    assert result.returncode != 0
    assert "AWS_STORAGE_BUCKET_NAME" in result.stderr
