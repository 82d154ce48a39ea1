"""Listening to a whole document in a browser: the silence between pages, and the first sound.

Both figures play documents through the real reader in headless Chromium (the browser tests'
Chromium), against gunicorn and one Celery worker as the Procfile starts them (the worker making
audio in the default voice), over the benchmark's scratch data (bench/stack.py: the ones the
listening figures share, started once).

`page_gap_ms` presses "Listen to the end" on the first page of a 7-page document that has no
audio at all, at 3x speed (the reader's fastest), and lets it play to its last page: the pages
ahead are made while one plays, as a listener's would be. Each gap is the silence from the
`ended` event of one page's audio to the first moment the next page's audio is heard (its
`currentTime` advancing while it plays); the figure is the p95 of the gaps of every document
played. Its baseline, in the same run, is the same documents played again once every page's
audio exists.

`first_sound_ms` presses "Listen to the end" on the first page, with no audio, of a 3-page
document and times the first sound in the browser (the reader asks for the page's audio and,
in the same request, the pages ahead, then plays the page's stream); p50 of its rounds. Its
baseline, in the same run and interleaved with it, is that path over HTTP alone for the page
alone: its audio asked for (POST /api/v1/documents/{id}/audios/), its stream opened at once,
its first MP3 bytes. Every round waits until the worker has made the audio the round asked
for, so that each starts on an idle worker.

Times are taken in the page (`performance.now()`), so the browser's messages to this process
add nothing to them.
"""

from __future__ import annotations

import http.client
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from bench.harness import Figure, percentile
from bench.server import HOST, Server
from bench.stack import request_json, warm_server

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

# Played once with no audio, then once more with all of it made: 6 page turns each time, in one
# document (a second document would add its opening, and a first page with no turn before it).
GAP_DOCUMENTS = 1
GAP_PAGES = 7
FIRST_SOUND_ROUNDS = 3
FIRST_SOUND_PAGES = 1 + 2  # the page, and the pages ahead a listener asks for with it
# Each page is its heading, a sentence naming it and this one: about 80 characters, 6 s of
# speech, 2 s at 3x, so a document plays in a quarter of a minute. A short page at the fastest
# speed leaves the least time to make the next one while it plays. The first sound follows the
# first sentence whatever the page's length, and short pages have the worker soon idle again for
# the next round.
PAGE_WORDS = "Cheaper books meant more readers."
SPEED = "3.0"
CHROMIUM = "/usr/bin/chromium"
PLAY_TIMEOUT_MS = 180_000
SOUND_TIMEOUT_MS = 60_000
DRAIN_TIMEOUT_S = 120.0

# Every timestamp is taken in the page and sent to this process with it. "sound" is the first
# moment an audio (by id) is heard: playing, its position past 0. "load" is a page load: a
# document must play in one (the reader brings each next page in without one).
INSTRUMENT = """
(() => {
  const send = (type, extra) =>
    window.benchEvent(Object.assign({type: type, at: performance.timeOrigin + performance.now()},
                                    extra || {}));
  document.addEventListener('click', (event) => {
    if (event.target instanceof Element && event.target.closest('#reader-listen')) send('listen');
  }, true);
  document.addEventListener('DOMContentLoaded', () => {
    const audio = document.getElementById('reader-audio');
    if (!audio) return;
    send('load', {path: location.pathname});
    let heard = null;
    const id = () => audio.dataset.audioId || '';
    audio.addEventListener('ended', () => send('ended', {audio: id()}));
    audio.addEventListener('waiting', () => {
      if (heard === id()) send('stall', {audio: id(), time: audio.currentTime});
    });
    setInterval(() => {
      if (id() && id() !== heard && !audio.paused && audio.currentTime > 0) {
        heard = id();
        send('sound', {audio: id(), rate: audio.playbackRate});
      }
    }, 5);
  });
})();
"""

STATE = """() => {
  const audio = document.getElementById('reader-audio');
  const text = (id) => document.getElementById(id).textContent.trim();
  return {
    path: location.pathname, now: text('reader-now'), status: text('reader-listen-status'),
    audio: audio.dataset.audioId, stream: audio.dataset.stream || null, paused: audio.paused,
    ended: audio.ended, time: audio.currentTime, duration: audio.duration,
    readyState: audio.readyState, error: audio.error && audio.error.code,
  };
}"""

PLAYED_TO_THE_END = """() => {
  const strings = JSON.parse(document.getElementById('reader-data').textContent).strings;
  return document.getElementById('reader-listen-status').textContent.includes(strings.listenEnd);
}"""


def _documents(owner: Any, *, count: int, pages: int, label: str) -> list[list[int]]:
    """`count` documents of `pages` pages each; every page's first words differ (an identical
    page would reuse another's audio instead of being made)."""
    from document_processing.extraction import page_from_markdown
    from document_processing.models import Document, Page

    made = []
    for index in range(count):
        document = Document.objects.create(
            owner=owner, title=f"bench {label} {index + 1}", page_count=pages,
            source_type=Document.SourceType.TEXT, status=Document.Status.COMPLETED,
        )  # fmt: skip
        ids = []
        for number in range(1, pages + 1):
            markdown = (
                f"# Part {number}\n\nThe {label} test, document {index + 1}, part {number}. "
                + PAGE_WORDS
            )
            data = page_from_markdown(markdown, number=number)
            page = Page.objects.create(
                document=document, number=number, markdown=data.markdown, text=data.text,
                char_count=data.char_count, title=data.title,
            )  # fmt: skip
            ids.append(page.pk)
        made.append(ids)
    return made


def _audio_ids(page_ids: list[int], voice: str) -> list[str]:
    from speech_processing.models import Audio

    found = dict(
        Audio.objects.filter(
            page_id__in=page_ids, voice=voice, lifetime_status=Audio.Lifetime.ACTIVE
        ).values_list("page_id", "pk")
    )
    return [str(found[page_id]) for page_id in page_ids]


def _drain(page_ids: list[int]) -> None:
    """Waits until the worker has made (or failed) every audio asked for on these pages."""
    from speech_processing.models import Audio

    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    busy = (Audio.Status.PENDING, Audio.Status.GENERATING)
    while Audio.objects.filter(page_id__in=page_ids, status__in=busy).exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the worker did not make the audio asked for in time")
        time.sleep(0.05)


def _mean_chars(page_ids: list[int]) -> int:
    """The pages' mean length in spoken characters."""
    from django.db.models import Avg

    from document_processing.models import Page

    mean = Page.objects.filter(pk__in=page_ids).aggregate(mean=Avg("char_count"))["mean"]
    return round(mean or 0)


class Listener:
    """One logged-in browser tab on the reader, whose events (timed in the page) are kept."""

    def __init__(self, context: BrowserContext, server: Server) -> None:
        self.base = f"http://{server.host}:{server.port}"
        self.events: list[dict[str, Any]] = []
        context.expose_function("benchEvent", self._keep)
        context.add_init_script(INSTRUMENT)
        self.tab = context.new_page()

    def _keep(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def open(self, page_id: int) -> int:
        """Opens the reader on a page at SPEED; returns where its events start (its load's)."""
        start = len(self.events)
        self.tab.goto(f"{self.base}/pages/{page_id}/")
        self.tab.select_option("#reader-speed", SPEED)
        self.tab.wait_for_function("() => !document.getElementById('reader-listen').hidden")
        return start

    def since(self, start: int, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events[start:] if event["type"] == kind]

    def wait_for(self, start: int, kind: str, timeout_ms: int) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_ms / 1000
        while not self.since(start, kind):
            if time.monotonic() > deadline:
                raise RuntimeError(f"no {kind} event in the browser within {timeout_ms} ms")
            self.tab.wait_for_timeout(20)  # (the browser's events are delivered meanwhile)
        return self.since(start, kind)[0]

    def state(self) -> str:
        """Where the reader is, for a message when it is stuck."""
        state = self.tab.evaluate(STATE)
        events = [(event["type"], event.get("audio")) for event in self.events[-12:]]
        return f"{state}; last events {events}"

    def stop(self) -> None:
        """Ends continuous play and silences the player."""
        self.tab.click("#reader-listen")
        self.tab.evaluate("() => document.getElementById('reader-audio').pause()")


def _play_document(listener: Listener, page_ids: list[int], voice: str) -> tuple[list[float], int]:
    """Plays a document from its first page to its last; the gaps between its pages (ms) and
    the stalls within them."""
    start = listener.open(page_ids[0])
    listener.tab.click("#reader-listen")
    try:
        listener.tab.wait_for_function(PLAYED_TO_THE_END, timeout=PLAY_TIMEOUT_MS)
    except Exception as error:
        raise RuntimeError(f"the document did not play to its end: {listener.state()}") from error
    listener.tab.wait_for_timeout(100)  # the last events on their way
    loads = listener.since(start, "load")
    if len(loads) != 1:
        paths = [event["path"] for event in loads]
        raise RuntimeError(f"the reader loaded pages while playing the document: {paths}")
    audio_ids = _audio_ids(page_ids, voice)
    heard = {event["audio"]: event for event in listener.since(start, "sound")}
    if set(audio_ids) - set(heard):
        raise RuntimeError(f"pages not heard: {sorted(set(audio_ids) - set(heard))}")
    if any(abs(event["rate"] - float(SPEED)) > 0.01 for event in heard.values()):
        raise RuntimeError("the reader did not play at the speed chosen")
    ended = listener.since(start, "ended")
    gaps = []
    for before, after in pairwise(audio_ids):
        next_sound = heard[after]["at"]
        ends = [event["at"] for event in ended if event["audio"] == before]
        end = max((at for at in ends if at <= next_sound), default=None)
        if end is None:
            raise RuntimeError(f"audio {after} was heard before audio {before} ended")
        gaps.append(next_sound - end)
    return gaps, len(listener.since(start, "stall"))


def _first_sound(listener: Listener, page_ids: list[int]) -> float:
    """ms from the press of "Listen to the end" on a page with no audio to its first sound."""
    start = listener.open(page_ids[0])
    listener.tab.click("#reader-listen")
    pressed = listener.wait_for(start, "listen", SOUND_TIMEOUT_MS)
    sound = listener.wait_for(start, "sound", SOUND_TIMEOUT_MS)
    listener.stop()
    return float(sound["at"] - pressed["at"])


def _first_bytes(server: Server, page_ids: list[int], token: str, voice: str) -> float:
    """ms from asking for a page's audio to the first MP3 bytes of its stream. The pages ahead
    are not asked for: it would be after the time is taken, and only keep the worker busy
    longer before the next round."""
    path = f"/api/v1/documents/{_document_of(page_ids[0])}/audios/"
    started = time.perf_counter()
    status, body = request_json(
        server, "POST", path, token, {"voice": voice, "pages": page_ids[:1]}
    )
    if status != 202:
        raise RuntimeError(f"asking for the audio answered {status}: {body}")
    first = body["results"][0]["audio"]
    connection = http.client.HTTPConnection(HOST, server.port, timeout=SOUND_TIMEOUT_MS / 1000)
    try:
        connection.request(
            "GET", f"/api/v1/audios/{first['id']}/stream/",
            headers={"Authorization": f"Token {token}"},
        )  # fmt: skip
        response = connection.getresponse()
        if response.status != 200 or not response.read1(64 * 1024):
            raise RuntimeError(f"the stream answered {response.status} with nothing")
        elapsed = (time.perf_counter() - started) * 1000
    finally:
        connection.close()
    return elapsed


def _document_of(page_id: int) -> int:
    from document_processing.models import Page

    return int(Page.objects.values_list("document_id", flat=True).get(pk=page_id))


@contextmanager
def _browser(server: Server, session_key: str) -> Iterator[BrowserContext]:
    from core.tests.browser import CHROMIUM_ARGS, sync_playwright_closing_connections

    # Playwright's sync API runs an event loop in this thread while the browser is open; the ORM
    # calls between the browser's steps are sync (as in the browser tests).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with ExitStack() as restore, sync_playwright_closing_connections() as playwright:
        restore.callback(_restore_env, "DJANGO_ALLOW_ASYNC_UNSAFE", previous)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.add_cookies(
                [{"name": "sessionid", "value": session_key, "url": f"http://{HOST}:{server.port}"}]
            )
            yield context
        finally:
            browser.close()


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def listen_in_browser(
    *,
    documents: int = GAP_DOCUMENTS,
    rounds: int = FIRST_SOUND_ROUNDS,
    pages: int = GAP_PAGES,
) -> list[Figure]:
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from users.tests.factories import UserFactory

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"needs Chromium at {CHROMIUM}")
    voice = settings.SPEECH_DEFAULT_VOICE
    owner = UserFactory.create(email="bench-listen@example.com")
    token = Token.objects.create(user=owner).key
    client = Client()
    client.force_login(owner)
    session_key = client.cookies["sessionid"].value
    played = _documents(owner, count=documents, pages=pages, label="listening")
    page_chars = _mean_chars([page_id for page_ids in played for page_id in page_ids])
    # One more round of each first, not counted: the reader's and the API's first requests in
    # each server process, and the browser's first page, are slower than any later one.
    in_browser, over_http = (
        _documents(owner, count=rounds + 1, pages=FIRST_SOUND_PAGES, label=label)
        for label in ("first sound", "first bytes")
    )
    cold: list[float] = []
    warm: list[float] = []
    stalls = 0
    firsts: list[float] = []
    bytes_first: list[float] = []
    server = warm_server()
    with _browser(server, session_key) as context:
        listener = Listener(context, server)
        for browser_pages, http_pages in zip(in_browser, over_http, strict=True):
            firsts.append(_first_sound(listener, browser_pages))
            _drain(browser_pages)
            bytes_first.append(_first_bytes(server, http_pages, token, voice))
            _drain(http_pages)
        firsts, bytes_first = firsts[1:], bytes_first[1:]  # (the warm-up rounds)
        for page_ids in played:
            gaps, stalled = _play_document(listener, page_ids, voice)
            cold.extend(gaps)
            stalls += stalled
            _drain(page_ids)
            gaps, _stalled = _play_document(listener, page_ids, voice)
            warm.extend(gaps)
    owner.delete()
    return [
        Figure(
            "page_gap_ms", round(percentile(cold, 0.95), 1), "ms", round(percentile(warm, 0.95), 1),
            note=f"p95 of the silence between one page's end and the next page's first sound, "
            f"{len(cold)} page turns: 'Listen to the end' pressed on page 1 of {documents} "
            f"document{'s' if documents != 1 else ''} of {pages} pages (~{page_chars} characters "
            "each) with no audio made, "
            f"played to the end at {SPEED}x in headless Chromium through the reader, gunicorn and "
            f"one Celery worker ({voice}); the pages ahead made while one plays (worst gap "
            f"{max(cold):.0f} ms, {stalls} stalls within pages); baseline: the same documents "
            f"played again with every page's audio made (worst {max(warm):.0f} ms)",
            target="≤ 1000 ms",
        ),
        Figure(
            "first_sound_ms", round(statistics.median(firsts), 1), "ms",
            round(statistics.median(bytes_first), 1),
            note=f"from the press of 'Listen to the end' on page 1 of a {FIRST_SOUND_PAGES}-page "
            f"document with no audio to the first sound in headless Chromium (the audio "
            f"element playing, its position past 0), through gunicorn and one idle Celery worker "
            f"({voice}; p95 {percentile(firsts, 0.95):.0f} ms); baseline: the same path over "
            "HTTP alone (POST /api/v1/documents/{id}/audios/ for the page, then its stream "
            "opened at once, to "
            f"its first MP3 bytes); median of {rounds} rounds each, interleaved, after a "
            "warm-up round of each",
            target="≤ 1500 ms",
        ),
    ]  # fmt: skip


FIGURES: list[Callable[[], list[Figure]]] = [listen_in_browser]
