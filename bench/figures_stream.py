"""Listening while audio is made: seconds from pressing generate to the first sound.

`first_audio_s` goes through the web server (gunicorn) and a Celery worker as the Procfile starts
them, over the benchmark's scratch data (bench/stack.py: started once for the listening figures,
the worker's voice loaded). Each round asks for audio of a fresh 500-character page in
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
import statistics
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

from bench.harness import Figure
from bench.server import HOST, Server
from bench.stack import request_json, warm_server
from bench.texts import text_of_length

ROUNDS = 3
# The first bytes follow the first sentence whatever the page's length; a short page keeps the
# baseline (the whole page's audio) to a few seconds a round.
CHARS = 500
ROUND_TIMEOUT_S = 300.0


def _listen(server: Server, page_id: int, token: str, voice: str) -> tuple[float, float]:
    """Seconds from the generate request to the first MP3 bytes, and to the last."""
    started = time.perf_counter()
    status, audio = request_json(
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
    _status, made = request_json(server, "GET", f"/api/v1/audios/{audio['id']}/", token)
    if first is None or made["status"] != "completed" or received != made["size_bytes"]:
        raise RuntimeError(f"the stream did not deliver the audio: {made}")
    return first, whole


def _pages(owner: Any, count: int, text: str) -> list[int]:
    """`count` pages of the text."""
    from document_processing.models import Document, Page

    document = Document.objects.create(
        owner=owner, title="bench stream", source_type=Document.SourceType.TEXT,
        status=Document.Status.COMPLETED, page_count=count,
    )  # fmt: skip
    pages = []
    for number in range(1, count + 1):
        # Different first words on every page: an identical page would reuse the audio.
        page_text = f"Round {number} of the listening test. {text}"
        page = Page.objects.create(
            document=document, number=number, markdown=page_text, text=page_text,
            char_count=len(page_text),
        )  # fmt: skip
        pages.append(page.pk)
    return pages


def first_audio(*, rounds: int = ROUNDS, chars: int = CHARS) -> list[Figure]:
    from rest_framework.authtoken.models import Token

    from users.models import User

    voice = settings.SPEECH_DEFAULT_VOICE
    text = text_of_length(chars, at_most=settings.PAGE_MAX_CHARS)
    owner = User.objects.create_user(email="bench-stream@example.com", password="bench pw 123")
    token = Token.objects.create(user=owner).key
    measured = _pages(owner, rounds, text)
    firsts, wholes = [], []
    server = warm_server()
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
            f"127.0.0.1, on a {len(text)}-character page; baseline: until the whole page's "
            f"audio had arrived through the same stream; median of {rounds} rounds after a "
            "warm-up",
            target="≤ 1.5 s",
        )
    ]  # fmt: skip


FIGURES: list[Callable[[], list[Figure]]] = [first_audio]
