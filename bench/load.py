"""Load: simulated listeners against gunicorn on 127.0.0.1 (PostgreSQL when DATABASE_URL is set,
SQLite otherwise).

Each user repeats what a listener does: list their documents, read a page, poll an audio's
status, download the audio, with a short think time between requests. Every answer other than
200, and every failed connection or timeout, is an error.

    python -m bench.load                         # 50 users for 15 seconds, printed
    python -m bench.load --users 10 --seconds 5
    python -m bench.run load                     # the same, into bench/results.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass

from bench.client import Scenario, Session, drive
from bench.harness import Figure, percentile
from bench.server import gunicorn

USERS = 50
# A quarter of a minute: about 1,500 requests (some 375 of each kind), enough for a p99.
SECONDS = 15.0
# A listener acts every half second on average: already a fast reader.
THINK = (0.2, 0.8)
DOCUMENTS_PER_USER = 20
PAGES_PER_DOCUMENT = 3
# About half a minute of 64 kbps MP3, downloaded whole.
AUDIO_BYTES = 256 * 1024


@dataclass(frozen=True)
class Listener:
    token: str
    # (page id, audio id) of every document the listener owns or has been given.
    pages: list[tuple[int, int]]


def seed(
    *,
    users: int,
    documents: int = DOCUMENTS_PER_USER,
    audio_bytes: int = AUDIO_BYTES,
    prefix: str = "listener",
) -> list[Listener]:
    """`users` people with `documents` documents each, every document shared with the next
    person, and a completed audio on the first page of each (all stored in one file)."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from rest_framework.authtoken.models import Token

    from document_processing.models import Document, Page
    from sharing.models import DocumentShare
    from speech_processing.models import Audio
    from users.models import User

    key = default_storage.save("audio/bench-load.mp3", ContentFile(os.urandom(audio_bytes)))
    people = [
        User.objects.create_user(email=f"{prefix}-{n}@example.com", password="bench pw 123")
        for n in range(users)
    ]
    tokens = [Token.objects.create(user=person).key for person in people]
    owned = Document.objects.bulk_create(
        [
            Document(
                owner=person, title=f"Book {n} of {person.pk}",
                source_type=Document.SourceType.TEXT, status=Document.Status.COMPLETED,
                detected_type="markdown", page_count=PAGES_PER_DOCUMENT,
            )
            for person in people
            for n in range(documents)
        ],
        batch_size=500,
    )  # fmt: skip
    Page.objects.bulk_create(
        [
            Page(document=document, number=n, title=f"Chapter {n}", markdown="# Text\n\nWords.",
                 text="Text. Words.", char_count=12)
            for document in owned
            for n in range(1, PAGES_PER_DOCUMENT + 1)
        ],
        batch_size=2_000,
    )  # fmt: skip
    first_pages = {
        page.document_id: page
        for page in Page.objects.filter(document__in=owned, number=1).only("id", "document_id")
    }
    audios = Audio.objects.bulk_create(
        [
            Audio(page=first_pages[document.pk], voice="piper:en_US-joe-medium",
                  engine="piper", status=Audio.Status.COMPLETED, created_by=document.owner,
                  file_key=key, size_bytes=audio_bytes, duration_seconds=32.0)
            for document in owned
        ],
        batch_size=1_000,
    )  # fmt: skip
    position = {person.pk: index for index, person in enumerate(people)}
    DocumentShare.objects.bulk_create(
        [
            DocumentShare(document=document, permission="view_only", shared_by=document.owner,
                          shared_with=people[(position[document.owner_id] + 1) % users])
            for document in owned
        ]
        if users > 1
        else [],
        batch_size=1_000,
    )  # fmt: skip
    reachable: list[list[tuple[int, int]]] = [[] for _ in people]
    for document, audio in zip(owned, audios, strict=True):
        owner = position[document.owner_id]
        targets = {owner, (owner + 1) % users}
        for person in targets:
            reachable[person].append((first_pages[document.pk].pk, audio.pk))
    return [Listener(token, pages) for token, pages in zip(tokens, reachable, strict=True)]


def listener_scenario(listeners: list[Listener]) -> Scenario:
    """One round of a listener's visit: list, read a page, poll the audio, download it."""

    def visit(session: Session, user: int) -> None:
        page_id, audio_id = session.random.choice(listeners[user].pages)
        session.get("/api/v1/documents/", label="list")
        session.get(f"/api/v1/pages/{page_id}/", label="page")
        session.get(f"/api/v1/audios/{audio_id}/", label="status")
        session.get(f"/api/v1/audios/{audio_id}/download/", label="download")

    return visit


def load(
    *, users: int = USERS, seconds: float = SECONDS, think: tuple[float, float] = THINK
) -> list[Figure]:
    from django.conf import settings
    from django.db import connection

    listeners = seed(users=users)
    scenario = listener_scenario(listeners)
    load_before = os.getloadavg()[0]
    with gunicorn(data_dir=settings.DATA_DIR) as server:

        def headers(user: int) -> dict[str, str]:
            return {"Authorization": f"Token {listeners[user].token}"}

        # Warm-up: every worker thread imports its views and opens its database connection.
        warm = drive(host=server.host, port=server.port, users=server.workers * server.threads,
                     scenario=scenario, iterations=2, headers=headers)  # fmt: skip
        assert warm.errors == 0, warm.error_samples
        tally = drive(host=server.host, port=server.port, users=users, scenario=scenario,
                      seconds=seconds, think=think, headers=headers)  # fmt: skip
    samples = tally.all_latencies()
    by_kind = ", ".join(
        f"{label} {statistics.median(ms):.1f}" for label, ms in sorted(tally.latencies_ms.items())
    )
    p99_by_kind = ", ".join(
        f"{label} {percentile(ms, 0.99):.1f}" for label, ms in sorted(tally.latencies_ms.items())
    )
    # The client shares the machine with the server, and so may other work: the load average
    # (1 minute, before the server started and when the run ended) says how busy it was.
    setup = (
        f"{users} users for {seconds:g} s, think time {think[0]:g}-{think[1]:g} s, against "
        f"gunicorn ({server.workers} workers x {server.threads} threads) on {connection.vendor}; "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, "
        f"{os.cpu_count()} CPUs"
    )
    if tally.errors:
        print(f"load errors ({tally.errors}): {tally.error_samples}", file=sys.stderr)
    return [
        Figure(
            "load_p50_ms", round(percentile(samples, 0.5), 2) if samples else 0.0, "ms", None,
            note=f"p50 of every request of {setup}; each visit lists documents, reads a page, "
            f"polls an audio's status and downloads it ({AUDIO_BYTES // 1024} KB); "
            f"p50 by request (ms): {by_kind}",
            target="reported",
        ),
        Figure(
            "load_p99_ms", round(percentile(samples, 0.99), 2) if samples else 0.0, "ms", None,
            note=f"p99 of the same {tally.requests} requests; p99 by request (ms): {p99_by_kind}",
            target="≤ 100 ms on a quiet machine, ≤ 250 ms on a busy one",
        ),
        Figure(
            "load_errors", tally.errors, "requests", None,
            note=f"answers other than 200, failed connections and timeouts among {tally.requests} "
            "requests", target="0",
        ),
        Figure(
            "load_rps", round(tally.ok / tally.elapsed_s, 1), "requests/s", None,
            note=f"requests answered per second during the same run ({setup})",
            target="reported",
        ),
    ]  # fmt: skip


FIGURES: list[Callable[[], list[Figure]]] = [load]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--think", type=float, nargs=2, default=THINK, metavar=("MIN", "MAX"))
    args = parser.parse_args(argv)
    from bench.run import setup

    teardown = setup()
    try:
        figures = load(users=args.users, seconds=args.seconds, think=tuple(args.think))
    finally:
        teardown()
    print(json.dumps([figure.as_json() for figure in figures], indent=2))
    return 1 if any(f.name == "load_errors" and f.value for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
