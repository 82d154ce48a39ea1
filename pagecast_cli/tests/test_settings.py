"""The command's settings: the service's engines and limits, and no database or data folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pagecast_cli.tests.conftest import ROOT

PROBE = """
import django, json
django.setup()
from django.conf import settings
from django.db import connection
try:
    connection.cursor()
    database = "reachable"
except Exception as exc:
    database = type(exc).__name__
print(json.dumps({
    "apps": settings.INSTALLED_APPS,
    "database": database,
    "engines": sorted(settings.SPEECH_ENGINES),
    "voice": settings.SPEECH_DEFAULT_VOICE,
    "threads": settings.SPEECH_ENGINES["piper"]["threads"],
    "max_pages": settings.DOCUMENT_MAX_PAGES,
}))
"""


def probe(tmp_path: Path, **env: str) -> dict[str, object]:
    import json
    import os

    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DJANGO_SETTINGS_MODULE", "SECRET_KEY", "SPEECH_DEFAULT_VOICE")
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="pagecast_cli.settings",
        DATA_DIR=str(tmp_path / "data"),
        PYTHONPATH=str(ROOT),
        **env,
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    answer: dict[str, object] = json.loads(result.stdout)
    return answer


def test_the_services_settings_without_database_or_data(tmp_path: Path) -> None:
    settings = probe(tmp_path)
    assert settings["apps"] == []
    assert settings["database"] == "ImproperlyConfigured"  # no database configured at all
    assert settings["voice"] == "piper:en_US-joe-medium"
    assert "piper" in settings["engines"]  # type: ignore[operator]
    assert settings["max_pages"] == 2000
    # No key file, database or cache was written into a data folder.
    assert not (tmp_path / "data").exists()


def test_the_same_environment_variables_as_the_service(tmp_path: Path) -> None:
    settings = probe(
        tmp_path, PIPER_THREADS="1", DOCUMENT_MAX_PAGES="7", SPEECH_DEFAULT_VOICE="piper:other"
    )
    assert (settings["threads"], settings["max_pages"], settings["voice"]) == (1, 7, "piper:other")
