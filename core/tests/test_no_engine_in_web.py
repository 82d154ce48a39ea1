"""Web processes never load a speech engine: requests a site serves, in a fresh process of their
own (core/tests/web_requests.py) with the shipped speech settings (the Piper voice by default),
leave onnxruntime and Piper unimported and no voice loaded.

Synthesis is the workers' work; `/health/` reads what they report (operations/health.py), and a
voice preview not made yet is queued for a worker (speech_processing/samples.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from core.tests.workers import database_url
from document_processing.tests.factories import document_with_pages
from operations import workers
from speech_processing.tests.factories import AudioFactory
from users.models import User

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
PIPER_VOICE = "piper:en_US-joe-medium"


def serve(requests: list[list[Any]], *, email: str, data_dir: Path) -> dict[str, Any]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"CELERY_BROKER_URL", "CACHE_URL", "STORAGE_BACKEND", "SPEECH_DEFAULT_VOICE"}
        and not key.startswith(("AWS_", "DJANGO_", "POLLY_", "OPENAI_"))
    }
    env.update(
        # The shipped defaults (Piper's voice), with an in-memory cache and broker.
        DJANGO_SETTINGS_MODULE="operations.tests.server_settings",
        DATABASE_URL=database_url(),
        DATA_DIR=str(data_dir),
        SECRET_KEY="web-requests-" + "x" * 50,
        ALLOWED_HOSTS="testserver",
        PYTHONPATH=str(ROOT),
        VOICE_SAMPLE_WAIT_SECONDS="0",
    )
    result = subprocess.run(
        [sys.executable, "-m", "core.tests.web_requests"],
        input=json.dumps({"email": email, "requests": requests}), cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    answer: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def test_the_pages_and_api_a_site_serves_load_no_speech_engine(alice: User, tmp_path: Path) -> None:
    document = document_with_pages(owner=alice, pages=2)
    page = document.pages.order_by("number").first()
    assert page is not None
    # Stored where the web process's storage (in its own data folder) finds it.
    stored = tmp_path / "media" / "audio" / "web.mp3"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"\xff\xfb" * 512)
    audio = AudioFactory.create(
        page=page, voice=PIPER_VOICE, engine="piper", created_by=alice,
        file_key="audio/web.mp3", size_bytes=1024, duration_seconds=1.0,
    )  # fmt: skip
    second = document.pages.get(number=2)
    # A worker reports in with its default voice working, as a running one does.
    now = timezone.now()
    workers.record_heartbeat(
        instance="web-test", nodename="celery@web", pid=1, started_at=now, held=[], host="test"
    )
    workers.record_engine_state(instance="web-test", voice=PIPER_VOICE, error=None)

    result = serve(
        [
            ["GET", "/health/", "anon"],
            ["GET", "/", "anon"],
            ["GET", f"/voices/{PIPER_VOICE}/sample/", "anon"],
            ["GET", "/library/", "browser"],
            ["GET", f"/documents/{document.pk}/", "browser"],
            ["GET", f"/pages/{page.pk}/", "browser"],
            ["GET", "/settings/", "browser"],
            ["GET", "/api/v1/voices/", "api"],
            ["GET", f"/api/v1/voices/{PIPER_VOICE}/sample/", "api"],
            ["GET", "/api/v1/documents/", "api"],
            ["GET", f"/api/v1/documents/{document.pk}/", "api"],
            ["GET", f"/api/v1/pages/{page.pk}/", "api"],
            ["GET", f"/api/v1/audios/{audio.pk}/", "api"],
            ["GET", f"/api/v1/audios/{audio.pk}/download/", "api"],
            ["POST", f"/api/v1/pages/{second.pk}/audios/", "api", {"voice": PIPER_VOICE}],
        ],
        email=alice.email,
        data_dir=tmp_path,
    )

    statuses = {(method, path): status for method, path, status, _ in result["answers"]}
    body = {path: text for _, path, _, text in result["answers"]}
    assert statuses.pop(("GET", "/health/")) == 200, body["/health/"]
    # No preview is stored yet: it is queued for a worker, and the visitor asked to come back.
    assert statuses.pop(("GET", f"/voices/{PIPER_VOICE}/sample/")) == 503
    assert statuses.pop(("GET", f"/api/v1/voices/{PIPER_VOICE}/sample/")) == 503
    assert statuses.pop(("POST", f"/api/v1/pages/{second.pk}/audios/")) == 202
    assert set(statuses.values()) == {200}, str(statuses)
    # The Piper voice was offered (its catalogue was read) ...
    assert PIPER_VOICE in body["/api/v1/voices/"]
    # ... and yet nothing of the engine was loaded.
    assert result["engine_modules_at_start"] == []
    assert result["engine_modules"] == []
    assert result["piper_voices_loaded"] == 0
