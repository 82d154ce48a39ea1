"""How big a web process grows serving requests, beside its size when it has just started.

`web_rss_mb` starts gunicorn as the Procfile does, with one worker process (so every request
lands in it), and reads that worker's resident memory (VmRSS) twice: once it answers its first
request (a bare Django view: the application and its URLs are loaded), the baseline; and after
`GET /health/` and 200 mixed requests a listener's browser and player make: the library, a
document, the reader, the JSON lists and details, the voice list, a stored voice preview and the
settings page. Web processes never synthesise, so they must not load a speech engine (about
150 MB for the default Piper voice); the target is 1.5x the size at start.

A worker reports in, with its default voice working, as a running worker does (none runs here).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from bench.client import Session, drive
from bench.harness import Figure
from bench.load import seed
from bench.server import Server, gunicorn

REQUESTS = 200
CLIENTS = 4


def _worker_pid(server: Server) -> int:
    """The one worker process of this gunicorn (a child of its master)."""
    children = [
        int(stat.parent.name)
        for stat in Path("/proc").glob("[0-9]*/stat")
        if _parent_of(stat) == server.pid
    ]
    if len(children) != 1:
        raise RuntimeError(f"expected one gunicorn worker, found {children}")
    return children[0]


def _parent_of(stat: Path) -> int | None:
    try:
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return kb / 1024


def _worker_reports_in() -> None:
    from operations import workers

    now = timezone.now()
    workers.record_heartbeat(
        instance="bench-web-worker", nodename="celery@bench", pid=1, started_at=now, held=[],
        host="bench",
    )  # fmt: skip
    workers.record_engine_state(
        instance="bench-web-worker", voice=settings.SPEECH_DEFAULT_VOICE, error=None
    )


def _stored_preview(voice_id: str) -> str:
    """The default voice's preview, stored as a worker would have made it."""
    from speech_processing import samples

    key = samples.sample_name(voice_id)
    if not default_storage.exists(key):
        default_storage.save(key, ContentFile(b"\xff\xfb\x90\x00" * 256))
    return key


def _mixed_paths(listener_pages: list[tuple[int, int]]) -> list[str]:
    from document_processing.models import Page

    page_id, audio_id = listener_pages[0]
    document_id = Page.objects.only("document_id").get(pk=page_id).document_id
    voice = settings.SPEECH_DEFAULT_VOICE
    return [
        "/library/",
        f"/documents/{document_id}/",
        f"/pages/{page_id}/",
        "/api/v1/documents/",
        f"/api/v1/pages/{page_id}/",
        f"/api/v1/audios/{audio_id}/",
        "/api/v1/voices/",
        f"/voices/{voice}/sample/",
        "/settings/",
    ]


def web_rss_mb(*, requests: int = REQUESTS, clients: int = CLIENTS) -> list[Figure]:
    (listener,) = seed(users=1, documents=20, audio_bytes=1024, prefix="bench-web")
    paths = _mixed_paths(listener.pages)
    _stored_preview(settings.SPEECH_DEFAULT_VOICE)
    _worker_reports_in()
    browser = Client()
    from rest_framework.authtoken.models import Token

    browser.force_login(Token.objects.select_related("user").get(key=listener.token).user)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    headers = {"Authorization": f"Token {listener.token}", "Cookie": cookie}

    def mixed(session: Session, user: int) -> None:
        session.get(paths[(user + session.tally.requests) % len(paths)])

    def health(session: Session, user: int) -> None:
        session.get("/health/")

    with gunicorn(data_dir=settings.DATA_DIR, workers=1) as server:
        pid = _worker_pid(server)
        boot = rss_mb(pid)
        checked = drive(host=server.host, port=server.port, users=1, scenario=health,
                        iterations=1)  # fmt: skip
        assert checked.errors == 0, checked.error_samples
        served = drive(host=server.host, port=server.port, users=clients, scenario=mixed,
                       iterations=requests // clients, headers=lambda user: headers)  # fmt: skip
        assert served.errors == 0, served.error_samples
        after = rss_mb(pid)
    return [
        Figure(
            "web_rss_mb", round(after, 1), "MB", round(boot, 1),
            note=f"RSS of the one gunicorn worker process ({server.threads} threads) after "
            f"GET /health/ and {served.requests} mixed requests ({len(paths)} kinds: library, "
            "document, reader, JSON document list, page and audio status, voice list, a stored "
            f"voice preview, settings) from {clients} keep-alive clients; baseline: the same "
            "process once it answered its first request (a bare view)",
            target="ratio ≤ 1.5",
        )
    ]  # fmt: skip


FIGURES: list[Callable[[], list[Figure]]] = [web_rss_mb]
