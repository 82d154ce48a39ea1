"""Listening while audio is made: seconds from pressing generate to the first sound.

`first_audio_s` runs the web server (gunicorn) and a Celery worker as the Procfile starts them,
over the benchmark's scratch data. Each round asks for audio of a fresh 3,000-character page in
the default Piper voice (POST /api/v1/pages/{id}/audios/), then at once opens the audio's stream
(GET /api/v1/audios/{id}/stream/) as the reader does, and times the first MP3 bytes. Its
baseline, in the same rounds, is the time until the stream has delivered the whole page's audio:
what a listener waited before the first sound when audio had to be finished first.

The first bytes follow the first sentence, whatever the page's length (the pipeline speaks and
encodes sentence by sentence, and the first part is written as soon as it is encoded). Each
round's page differs in its first words, so that no audio is reused from an identical twin.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings

from bench.harness import Figure
from bench.server import HOST, Server, gunicorn
from bench.texts import PAGE_TEXT

ROUNDS = 3
ROOT = Path(__file__).resolve().parent.parent
WORKER_START_S = 300.0  # a cold worker loads the Piper voice on its first job
ROUND_TIMEOUT_S = 300.0


@contextmanager
def celery_worker(*, data_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A worker as the Procfile runs one (one process), over the same scratch data."""
    log = data_dir / "celery-worker.log"
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="bench.settings",
        BENCH_DATA_DIR=str(data_dir),
        PYTHONPATH=str(ROOT),
        MALLOC_ARENA_MAX=os.environ.get("MALLOC_ARENA_MAX", "2"),
    )
    command = [
        sys.executable, "-m", "celery", "-A", "core", "worker",
        "--queues", "default,documents,speech", "--concurrency", "1", "--loglevel", "WARNING",
    ]  # fmt: skip
    with log.open("ab") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _request(
    server: Server, method: str, path: str, token: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    connection = http.client.HTTPConnection(HOST, server.port, timeout=60)
    try:
        headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        payload = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            payload = json.dumps(body)
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def _listen(server: Server, page_id: int, token: str, voice: str) -> tuple[float, float]:
    """Seconds from the generate request to the first MP3 bytes, and to the last."""
    started = time.perf_counter()
    status, audio = _request(
        server, "POST", f"/api/v1/pages/{page_id}/audios/", token, {"voice": voice}
    )
    if status != 202:
        raise RuntimeError(f"generate answered {status}: {audio}")
    connection = http.client.HTTPConnection(HOST, server.port, timeout=ROUND_TIMEOUT_S)
    first = None
    received = 0
    try:
        connection.request(
            "GET", f"/api/v1/audios/{audio['id']}/stream/",
            headers={"Authorization": f"Token {token}"},
        )  # fmt: skip
        response = connection.getresponse()
        if response.status != 200:
            raise RuntimeError(f"the stream answered {response.status}")
        while chunk := response.read1(64 * 1024):
            if first is None:
                first = time.perf_counter() - started
            received += len(chunk)
    finally:
        connection.close()
    whole = time.perf_counter() - started
    _status, made = _request(server, "GET", f"/api/v1/audios/{audio['id']}/", token)
    if first is None or made["status"] != "completed" or received != made["size_bytes"]:
        raise RuntimeError(f"the stream did not deliver the audio: {made}")
    return first, whole


# The warm-up only has to start the worker and load its voice: a short page does.
WARM_UP_TEXT = "The worker starts and loads its voice."


def _pages(owner: Any, count: int) -> list[int]:
    """A short warm-up page, then `count` pages of the page text."""
    from document_processing.models import Document, Page

    document = Document.objects.create(
        owner=owner, title="bench stream", source_type=Document.SourceType.TEXT,
        status=Document.Status.COMPLETED, page_count=count + 1,
    )  # fmt: skip
    pages = []
    for number in range(count + 1):
        # Different first words on every page: an identical page would reuse the audio.
        text = WARM_UP_TEXT if number == 0 else f"Round {number} of the listening test. {PAGE_TEXT}"
        page = Page.objects.create(
            document=document, number=number + 1, markdown=text, text=text, char_count=len(text)
        )
        pages.append(page.pk)
    return pages


def first_audio(*, rounds: int = ROUNDS) -> list[Figure]:
    from rest_framework.authtoken.models import Token

    from users.models import User

    voice = settings.SPEECH_DEFAULT_VOICE
    owner = User.objects.create_user(email="bench-stream@example.com", password="bench pw 123")
    token = Token.objects.create(user=owner).key
    warm_up, *measured = _pages(owner, rounds)
    data_dir = Path(settings.DATA_DIR)
    firsts, wholes = [], []
    with gunicorn(data_dir=data_dir) as server, celery_worker(data_dir=data_dir):
        _warm_up(server, warm_up, token, voice)
        for page_id in measured:
            first, whole = _listen(server, page_id, token, voice)
            firsts.append(first)
            wholes.append(whole)
    owner.delete()
    return [
        Figure(
            "first_audio_s", round(statistics.median(firsts), 3), "s",
            round(statistics.median(wholes), 3),
            note=f"from POST /api/v1/pages/{{id}}/audios/ ({voice}) to the first MP3 bytes of "
            f"GET /api/v1/audios/{{id}}/stream/, through gunicorn and one Celery worker on "
            f"127.0.0.1, on a {len(PAGE_TEXT)}-character page; baseline: until the whole page's "
            f"audio had arrived through the same stream; median of {rounds} rounds after a "
            "warm-up",
            target="≤ 1.5 s",
        )
    ]  # fmt: skip


def _warm_up(server: Server, page_id: int, token: str, voice: str) -> None:
    """One audio made end to end: the worker has started and loaded the voice."""
    status, audio = _request(
        server, "POST", f"/api/v1/pages/{page_id}/audios/", token, {"voice": voice}
    )
    if status != 202:
        raise RuntimeError(f"generate answered {status}: {audio}")
    deadline = time.monotonic() + WORKER_START_S
    while audio["status"] in ("pending", "generating"):
        if time.monotonic() > deadline:
            raise RuntimeError("the worker did not make the warm-up audio in time")
        time.sleep(0.5)
        _status, audio = _request(server, "GET", f"/api/v1/audios/{audio['id']}/", token)
    if audio["status"] != "completed":
        raise RuntimeError(f"the warm-up audio failed: {audio['error_message']}")


FIGURES: list[Callable[[], list[Figure]]] = [first_audio]
