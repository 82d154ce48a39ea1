"""A class listening at once to audio being made: `live_listeners`.

The web server (gunicorn, with the default web processes and threads) and one Celery worker run
as the Procfile starts them, over the benchmark's scratch data (bench/stack.py: the ones the
listening figures share, the worker's voice loaded). A document's owner asks for the
audio of a fresh 1,000-character page in the default Piper voice; at that moment LISTENERS
people the document is shared with start listening, as the reader does: each follows the audio's
manifest (GET /api/v1/audios/{id}/parts/), reads every part it lists by its URL, and once the
audio is made, reads the rest of the made file from the byte it reached. After the first look,
it follows the manifest by the URL the manifest gives (no session), as the player does. Each
listener is a thread with its own keep-alive connection and its own account.

The figure is the 95th percentile of the listeners' first sound (from their start to the first
MP3 bytes received); its baseline, in the same run, is one listener's first sound alone on the
same server. The run fails (no figure) if any request errs or any listener's bytes differ from
the made file.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from bench.harness import Figure, percentile
from bench.server import HOST, Server
from bench.stack import request_json, warm_server
from bench.texts import text_of_length

LISTENERS = 200
CHARS = 1_000  # a minute of speech, made in a few seconds
LISTEN_TIMEOUT_S = 300.0


@dataclass
class Heard:
    """What one listener received, and when its first bytes came."""

    first_s: float | None = None
    data: bytearray = field(default_factory=bytearray)
    requests: int = 0
    error: str = ""


# A keep-alive connection the server closed while the listener waited (its keep-alive timeout):
# asked again on a new connection, once, as browsers do. Anything else is an error.
_CLOSED_WHILE_IDLE = (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)


def _get(connection: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> Any:
    for attempt in (1, 2):
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            return response, response.read()
        except _CLOSED_WHILE_IDLE:
            connection.close()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def listen(server: Server, audio_id: int, token: str, start: threading.Event) -> Heard:
    """One listener, as the reader's player follows an audio being made (static/js/stream.js)."""
    heard = Heard()
    auth = {"Authorization": f"Token {token}", "Accept": "application/json"}
    connection = http.client.HTTPConnection(HOST, server.port, timeout=60)
    start.wait()
    started = time.perf_counter()
    received = 0
    attempt = None
    manifest_url, sep = f"/api/v1/audios/{audio_id}/parts/", "?"
    spread = random.Random(token)
    try:
        while time.perf_counter() - started < LISTEN_TIMEOUT_S:
            heard.requests += 1
            response, body = _get(connection, f"{manifest_url}{sep}after={received}", auth)
            if response.status != 200:
                heard.error = f"the manifest answered {response.status}"
                return heard
            manifest = json.loads(body)
            if manifest["follow_url"]:
                manifest_url, sep = manifest["follow_url"], "&"
            if manifest["status"] == "completed":
                heard.requests += 1
                headers = {"Authorization": auth["Authorization"]}
                if heard.data:
                    headers["Range"] = f"bytes={len(heard.data)}-"
                response, body = _get(connection, manifest["rest_url"], headers)
                if response.status not in (200, 206, 416):
                    heard.error = f"the rest of the file answered {response.status}"
                elif response.status != 416:
                    if heard.first_s is None:
                        heard.first_s = time.perf_counter() - started
                    heard.data += body
                return heard
            if attempt is not None and manifest["attempt"] != attempt:
                heard.error = "the audio was made again from its start"
                return heard
            attempt = manifest["attempt"]
            for url in manifest["parts"]:
                heard.requests += 1
                response, body = _get(connection, url, {})
                if response.status == 404:
                    break  # made meanwhile: the manifest says so
                if response.status != 200:
                    heard.error = f"a part answered {response.status}"
                    return heard
                if heard.first_s is None:
                    heard.first_s = time.perf_counter() - started
                heard.data += body
                received += 1
            else:
                # As the player: around the time asked, not all at once.
                time.sleep((manifest["poll_ms"] or 1000) / 1000 * spread.uniform(0.75, 1.25))
        heard.error = "the audio was not made in time"
    except (OSError, http.client.HTTPException) as error:
        heard.error = f"{type(error).__name__}: {error}"
    finally:
        connection.close()
    return heard


def _class(owner: Any, count: int, text: str) -> tuple[list[int], list[str]]:
    """A document of a solo page and the class's page, shared with `count` listeners (view
    only), and their tokens."""
    from rest_framework.authtoken.models import Token

    from document_processing.models import Document, Page
    from sharing.models import DocumentShare
    from users.models import User

    document = Document.objects.create(
        owner=owner, title="bench live", source_type=Document.SourceType.TEXT,
        status=Document.Status.COMPLETED, page_count=2,
    )  # fmt: skip
    pages = []
    texts = [f"One listener. {text}", f"The whole class listens. {text}"]
    for number, text in enumerate(texts, start=1):
        page = Page.objects.create(
            document=document, number=number, markdown=text, text=text, char_count=len(text)
        )
        pages.append(page.pk)
    # Accounts without a password (hashing one each would take the bench a minute).
    listeners = User.objects.bulk_create(
        [User(email=f"bench-live-{n}@example.com", password="!") for n in range(count)]
    )
    DocumentShare.objects.bulk_create(
        [
            DocumentShare(
                document=document,
                shared_with=listener,
                shared_by=owner,
                permission=DocumentShare.Permission.VIEW_ONLY,
            )
            for listener in listeners
        ]
    )
    tokens = Token.objects.bulk_create(
        [Token(user=listener, key=Token.generate_key()) for listener in listeners]
    )
    return pages, [token.key for token in tokens]


def _generate(server: Server, page_id: int, token: str, voice: str) -> int:
    status, audio = request_json(
        server, "POST", f"/api/v1/pages/{page_id}/audios/", token, {"voice": voice}
    )
    if status != 202:
        raise RuntimeError(f"generate answered {status}: {audio}")
    return int(audio["id"])


def _made_file(audio_id: int) -> bytes:
    from django.core.files.storage import default_storage

    from speech_processing.models import Audio

    audio = Audio.objects.get(pk=audio_id)
    if audio.status != Audio.Status.COMPLETED:
        raise RuntimeError(f"the audio was not made: {audio.error_message}")
    with default_storage.open(audio.file_key, "rb") as made:
        return bytes(made.read())


def _listen_together(
    server: Server, ask: Callable[[], int], tokens: list[str]
) -> tuple[int, list[Heard]]:
    """The listeners start together the moment the audio is asked for (`ask` asks for it and
    gives its id)."""
    start = threading.Event()
    results: list[Heard] = [Heard() for _ in tokens]
    audio: dict[str, int] = {}

    def run(index: int, token: str) -> None:
        start.wait()
        results[index] = listen(server, audio["id"], token, start)

    threads = [
        threading.Thread(target=run, args=(index, token), daemon=True)
        for index, token in enumerate(tokens)
    ]
    for thread in threads:
        thread.start()
    audio["id"] = ask()
    start.set()
    for thread in threads:
        thread.join(timeout=LISTEN_TIMEOUT_S + 60)
    return audio["id"], results


def _checked(results: list[Heard], made: bytes) -> list[float]:
    errors = [heard.error for heard in results if heard.error]
    if errors:
        raise RuntimeError(f"{len(errors)} listeners failed, e.g. {errors[0]}")
    differ = sum(bytes(heard.data) != made for heard in results)
    if differ:
        raise RuntimeError(f"{differ} listeners received other bytes than the made file")
    return [heard.first_s for heard in results if heard.first_s is not None]


def live_listeners(*, listeners: int = LISTENERS, chars: int = CHARS) -> list[Figure]:
    from rest_framework.authtoken.models import Token

    from users.models import User

    voice = settings.SPEECH_DEFAULT_VOICE
    text = text_of_length(chars, at_most=settings.PAGE_MAX_CHARS)
    owner = User.objects.create_user(email="bench-live@example.com", password="bench pw 123")
    owner_token = Token.objects.create(user=owner).key
    (solo_page, class_page), tokens = _class(owner, listeners, text)
    try:
        server = warm_server()
        audio_id, solo = _listen_together(
            server, lambda: _generate(server, solo_page, owner_token, voice), tokens[:1]
        )
        solo_first = _checked(solo, _made_file(audio_id))
        audio_id, everyone = _listen_together(
            server, lambda: _generate(server, class_page, owner_token, voice), tokens
        )
        made = _made_file(audio_id)
        firsts = _checked(everyone, made)
        requests = sum(heard.requests for heard in everyone)
    finally:
        User.objects.filter(email__startswith="bench-live").delete()
    return [
        Figure(
            "live_listeners", round(percentile(firsts, 0.95), 3), "s",
            round(solo_first[0], 3),
            note=f"{listeners} listeners (view-only shares, each its own connection) start "
            f"following one audio the moment its owner asks for it ({len(text)}-character "
            f"page, {voice}, one Celery worker, gunicorn with {server.workers} processes of "
            f"{server.threads} threads): 95th percentile of their first sound; 0 errors in "
            f"{requests} requests, every listener received the made file ({len(made)} bytes) "
            "byte for byte; baseline: one listener alone, in the same run",
            target="≤ 3 s, 0 errors, every file whole",
        )
    ]  # fmt: skip


FIGURES: list[Callable[[], list[Figure]]] = [live_listeners]
