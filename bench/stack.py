"""The web server and Celery worker that the listening figures share.

`first_audio`, `live_listeners` and `listen_in_browser` each listen to audio being made, through
gunicorn and one Celery worker as the Procfile starts them, the worker's default voice loaded.
Starting those and making a first audio (the worker loads the voice on its first job) takes a
quarter of a minute or more on a 2-core machine, so a run starts them once, when the first of
these figures asks (`warm_server()`), and stops them when it ends (`close()`, which bench.run
calls). Every figure leaves the worker idle: it waits until the audio it asked for is made.
"""

from __future__ import annotations

import atexit
import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from bench.server import HOST, Server, gunicorn, stop

ROOT = Path(__file__).resolve().parent.parent
WORKER_START_S = 300.0  # a cold worker loads the Piper voice on its first job
# The warm-up only has to start the worker and load its voice: a short page does (each start's
# its own, so that no audio made before is reused instead).
WARM_UP_TEXT = "The worker on port {port} starts and loads its voice."
WARM_UP_EMAIL = "bench-warm-up@example.com"


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
        stop(process, grace=60)


def request_json(
    server: Server, method: str, path: str, token: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    """One API request with a token; its status and its JSON."""
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


def warm_up(server: Server, page_id: int, token: str, voice: str) -> None:
    """One audio made end to end (asked for, then polled until made): the worker has started
    and loaded the voice."""
    status, audio = request_json(
        server, "POST", f"/api/v1/pages/{page_id}/audios/", token, {"voice": voice}
    )
    if status != 202:
        raise RuntimeError(f"generate answered {status}: {audio}")
    deadline = time.monotonic() + WORKER_START_S
    while audio["status"] in ("pending", "generating"):
        if time.monotonic() > deadline:
            raise RuntimeError("the worker did not make the warm-up audio in time")
        time.sleep(0.5)
        _status, audio = request_json(server, "GET", f"/api/v1/audios/{audio['id']}/", token)
    if audio["status"] != "completed":
        raise RuntimeError(f"the warm-up audio failed: {audio['error_message']}")


def _warm_up_page(port: int) -> tuple[int, str]:
    """A one-page document of WARM_UP_TEXT and its owner's token."""
    from rest_framework.authtoken.models import Token

    from document_processing.models import Document, Page
    from users.models import User

    owner = User.objects.filter(email=WARM_UP_EMAIL).first() or User.objects.create_user(
        email=WARM_UP_EMAIL, password="bench pw 123"
    )
    document = Document.objects.create(
        owner=owner, title="bench warm-up", source_type=Document.SourceType.TEXT,
        status=Document.Status.COMPLETED, page_count=1,
    )  # fmt: skip
    text = WARM_UP_TEXT.format(port=port)
    page = Page.objects.create(
        document=document, number=1, markdown=text, text=text, char_count=len(text)
    )
    token, _created = Token.objects.get_or_create(user=owner)
    return page.pk, token.key


_running: list[Server] = []
_stack = ExitStack()


def warm_server() -> Server:
    """gunicorn and one Celery worker over the run's scratch data, the worker having made one
    audio in the default voice; started on the first call, the same ones afterwards."""
    if _running:
        return _running[0]
    from django.conf import settings

    data_dir = Path(settings.DATA_DIR)
    # Should a run end without close(), the server and the worker still go with it.
    atexit.register(close)
    try:
        server = _stack.enter_context(gunicorn(data_dir=data_dir))
        _stack.enter_context(celery_worker(data_dir=data_dir))
        page_id, token = _warm_up_page(server.port)
        warm_up(server, page_id, token, settings.SPEECH_DEFAULT_VOICE)
    except BaseException:
        close()
        raise
    _running.append(server)
    return server


def close() -> None:
    """Stops the shared server and worker, if started."""
    _running.clear()
    _stack.close()
    atexit.unregister(close)
