"""A web worker killed in the middle of an upload leaves its temporary file behind, and the sweep
removes it (with a stored original no row names), while files that rows name stay.

Real processes, as the Procfile starts them: gunicorn with core/gunicorn_conf.py on a free port of
127.0.0.1, over a data folder and SQLite database of this test's own. The upload is sent slowly
over a raw socket, and the worker is killed (SIGKILL) once its temporary file exists. The sweep
then runs as `manage.py sweep_orphans` in the same environment.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
HOUR = 3600


def server_env(data_dir: Path, port: int) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "STORAGE_BACKEND"}
        and not key.startswith(("AWS_", "DJANGO_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="operations.tests.server_settings",
        DATA_DIR=str(data_dir),
        SECRET_KEY="killed-upload-" + "x" * 50,
        PYTHONPATH=str(ROOT),
        BIND_HOST=HOST,
        PORT=str(port),
        WEB_CONCURRENCY="1",
        WEB_THREADS="2",
    )
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def answers(port: int) -> bool:
    connection = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        connection.request("GET", "/health/live/")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


@contextmanager
def gunicorn(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    command = [
        sys.executable, "-m", "gunicorn", "core.wsgi:application",
        "--config", "core/gunicorn_conf.py", "--error-logfile", str(log),
    ]  # fmt: skip
    with log.open("ab") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 120
        while not answers(int(env["PORT"])):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def workers_of(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def wait_for(condition: object, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def upload(port: int, token: str, *, name: str, body: bytes) -> dict[str, object]:
    boundary = uuid.uuid4().hex
    payload = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + body
        + f"\r\n--{boundary}--\r\n".encode()
    )
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    connection.request(
        "POST",
        "/api/v1/documents/",
        body=payload,
        headers={
            "Authorization": f"Token {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    response = connection.getresponse()
    assert response.status == 202, response.read()[:500]
    answer: dict[str, object] = json.loads(response.read())
    return answer


def age_all(folder: Path, seconds: float) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            then = time.time() - seconds
            os.utime(path, (then, then))


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_a_worker_killed_mid_upload_leaves_files_the_sweep_removes(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    env = server_env(data_dir, port)
    manage(env, "migrate", "--noinput")
    token = manage(
        env, "shell", "-c",
        "from rest_framework.authtoken.models import Token; from users.models import User; "
        "user = User.objects.create_user(email='alice@example.com', password='x' * 12); "
        "print(Token.objects.create(user=user).key)",
    ).strip().splitlines()[-1]  # fmt: skip
    uploads = data_dir / "tmp" / "uploads"
    media = data_dir / "media"

    with gunicorn(env, tmp_path / "gunicorn.log") as master:
        # A complete upload: its original is named by its row and must stay.
        upload(port, token, name="kept.md", body=b"# Kept\n\nA document that was uploaded.\n")
        named_originals = files_under(media)
        assert len(named_originals) == 1
        # Its temporary file goes once the answer is sent.
        wait_for(lambda: not any(uploads.iterdir()), "the finished upload's temporary file to go")

        # A large upload, sent slowly: the worker writes its temporary file as the body arrives.
        boundary = uuid.uuid4().hex
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="big.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
        ).encode()
        total = len(head) + 4 * 1024 * 1024
        client = socket.create_connection((HOST, port), timeout=30)
        try:
            client.sendall(
                (
                    "POST /api/v1/documents/ HTTP/1.1\r\n"
                    f"Host: {HOST}:{port}\r\nAuthorization: Token {token}\r\n"
                    f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                    f"Content-Length: {total}\r\n\r\n"
                ).encode()
                + head
                + b"%PDF-1.7\n"
                + b"0" * (512 * 1024)
            )
            wait_for(lambda: any(uploads.iterdir()), "the upload's temporary file")
            (worker,) = workers_of(master.pid)
            os.kill(worker, signal.SIGKILL)
            wait_for(lambda: worker not in workers_of(master.pid), "the worker to be gone")
        finally:
            client.close()

    left = files_under(uploads)
    assert len(left) == 1, "the killed request left its temporary file"
    # A request killed between storing its original and writing the row leaves this.
    orphan = media / "originals" / f"{uuid.uuid4().hex}.pdf"
    orphan.write_bytes(b"%PDF-1.7 stored, and then the process died")
    stranger = data_dir / "tmp" / "not-an-upload.tmp"
    stranger.write_bytes(b"not in the uploads folder")
    age_all(data_dir, 2 * HOUR)

    output = manage(env, "sweep_orphans")

    assert "Removed 1 stored files and 1 temporary uploads" in output
    assert files_under(uploads) == set()
    assert not orphan.exists()
    assert files_under(media) == named_originals
    assert stranger.exists()
