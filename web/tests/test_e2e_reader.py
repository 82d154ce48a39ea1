"""The reader in a real browser (Debian's Chromium, headless): make audio, listen, use the keys.

Screenshots of each step are written under e2e-artifacts/ (git-ignored).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import connection, transaction
from django.test import Client

from core.tests.browser import E2E_MARKS, axe_violations
from document_processing import services as document_services
from document_processing.extraction import page_from_markdown
from document_processing.models import Document, Page
from document_processing.tests.factories import document_with_pages
from sharing.models import DocumentShare
from speech_processing import services, voices
from speech_processing.engines.fake import FakeEngine
from speech_processing.models import Audio, ListeningProgress, PlaybackPosition
from users.models import User
from users.tests.factories import UserFactory

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext
    from playwright.sync_api import Page as Tab

ARTIFACTS = Path(settings.BASE_DIR) / "e2e-artifacts"
WAIT_MS = 20_000
PLAYER = "const audio = document.getElementById('reader-audio');"
# The voice the documents here are spoken in, as people see it ("Now playing").
ALPHA = "Alpha (English (US), Test tones)"
# The voice picker's chosen option: its text, the width it takes in the picker's font, and the
# room the closed picker gives it (its inner width less the drop-down arrow's 24 px).
PICKER_FIT = """() => {
  const select = document.getElementById("reader-voice");
  const style = getComputedStyle(select);
  const text = select.options[select.selectedIndex].textContent;
  const context = document.createElement("canvas").getContext("2d");
  context.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
  return {text, width: context.measureText(text).width, room: select.clientWidth - padding - 24};
}"""

pytestmark = E2E_MARKS


# About 30 s of speech from the fake engine (60 ms a character): long enough to skip around in.
SPOKEN = "A sentence to listen to, read aloud page by page. " * 10


class Session:
    """A browser context logged in as one person, that refuses and records every request to a
    host other than the app's, and every Content Security Policy complaint. With `javascript`
    false, the browser runs no script of the page's."""

    def __init__(
        self,
        browser: Browser,
        live_server: Any,
        user: User,
        *,
        javascript: bool = True,
        viewport: dict[str, int] | None = None,
    ) -> None:
        self.base = live_server.url
        client = Client()
        client.force_login(user)
        size = viewport or {"width": 1200, "height": 900}
        self.context: BrowserContext = browser.new_context(
            viewport={"width": size["width"], "height": size["height"]},
            java_script_enabled=javascript,
        )
        self.context.add_cookies(
            [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": self.base}]
        )
        self.foreign: list[str] = []
        self.console_errors: list[str] = []
        own = urlsplit(self.base).netloc
        self.context.route("**/*", lambda route: self._route(route, own))
        self.tab: Tab = self.context.new_page()
        self.tab.on("console", self._console)

    def _route(self, route: Any, own: str) -> None:
        url = route.request.url
        if urlsplit(url).scheme in {"http", "https", "ws", "wss"} and urlsplit(url).netloc != own:
            self.foreign.append(url)
            route.abort()
        else:
            route.continue_()

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def open(self, path: str) -> None:
        self.tab.goto(f"{self.base}{path}")

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.tab.screenshot(path=str(ARTIFACTS / f"reader-{name}.png"), full_page=True)

    def audio(self, expression: str) -> Any:
        return self.tab.evaluate(f"() => {{ {PLAYER} return {expression}; }}")

    def wait_audio(self, condition: str) -> None:
        self.tab.wait_for_function(
            f"() => {{ {PLAYER} return {condition}; }}",
            timeout=WAIT_MS,
        )

    def close(self) -> None:
        # Leaving the page fires its pagehide save; closing the context stops its timers.
        self.tab.goto("about:blank")
        self.context.close()
        assert self.foreign == [], "the page asked another host for something"
        assert not [e for e in self.console_errors if "Content Security Policy" in e], (
            self.console_errors
        )


class InFlight:
    """Counts the live server's requests between start and finish, so that a test ends only once
    the last request a page sent has finished: the database flush after the test would otherwise
    race a save still writing (a deadlock on PostgreSQL)."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def started(self, **_: Any) -> None:
        with self.lock:
            self.count += 1

    def finished(self, **_: Any) -> None:
        with self.lock:
            self.count -= 1

    def wait_idle(self, quiet_s: float = 0.3, limit_s: float = 30.0) -> None:
        """Returns once no request has been running for `quiet_s` in a row."""
        deadline = time.monotonic() + limit_s
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            if self.count > 0:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_s:
                return
            time.sleep(0.02)
        raise AssertionError(f"{self.count} request(s) still running after {limit_s} s")


@pytest.fixture
def sessions(browser: Browser, live_server: Any) -> Iterator[Any]:
    opened: list[Session] = []
    in_flight = InFlight()
    request_started.connect(in_flight.started)
    request_finished.connect(in_flight.finished)

    def open_as(
        user: User, *, javascript: bool = True, viewport: dict[str, int] | None = None
    ) -> Session:
        session = Session(browser, live_server, user, javascript=javascript, viewport=viewport)
        opened.append(session)
        return session

    try:
        yield open_as
        for session in opened:
            session.close()
    finally:
        in_flight.wait_idle()
        request_started.disconnect(in_flight.started)
        request_finished.disconnect(in_flight.finished)


def spoken_document(owner: User, *, pages: int, title: str = "Listening notes") -> list[Page]:
    document = document_with_pages(owner=owner, pages=pages, title=title)
    for page in document.pages.all():
        data = page_from_markdown(f"# Chapter {page.number}\n\n{SPOKEN}", number=page.number)
        Page.objects.filter(pk=page.pk).update(
            markdown=data.markdown, text=data.text, char_count=data.char_count, title=data.title
        )
    return list(Page.objects.filter(document=document).order_by("number"))


def made_audio(page: Page, user: User, voice: str = "fake:alpha") -> Audio:
    audio = services.create_audio_record(page=page, voice=voice, user=user)
    services.synthesize_audio(audio_id=audio.pk)
    audio.refresh_from_db()
    assert audio.status == Audio.Status.COMPLETED
    return audio


def test_the_owner_makes_audio_and_listens(sessions: Any) -> None:
    from playwright.sync_api import expect

    owner = UserFactory.create(email="reader-owner@example.com")
    first, second = spoken_document(owner, pages=2)
    waiting = made_audio(second, owner)  # the next page already speaks in the same voice
    session = sessions(owner)
    tab = session.tab

    session.open(f"/pages/{first.pk}/")
    expect(tab.locator(".reader-header h1")).to_have_text("Chapter 1")
    expect(tab.locator("#reader-toggle")).to_be_disabled()
    assert tab.locator("#reader-voice option").first.get_attribute("value") == "fake:alpha"
    # Voices are grouped by language, each option by its short name there.
    assert tab.locator("#reader-voice optgroup").first.get_attribute("label") == "English (US)"
    expect(tab.locator("#reader-voice option").first).to_have_text("Alpha · Test tones")
    session.shot("1-open")

    # The voice preview plays a sample of the chosen voice, from this site.
    with tab.expect_response(lambda response: "/sample/" in response.url) as sample:
        tab.click("#reader-voice-preview")
    assert sample.value.status in {200, 206}
    tab.click("#reader-voice-preview")  # stop it again

    # Generate: the answer comes back at once, the player starts on the audio's stream (from
    # its first sentence, while the rest is made), and the page follows it until it is made.
    is_stream = lambda response: "/stream/" in response.url  # noqa: E731
    is_post = lambda response: response.request.method == "POST"  # noqa: E731
    with tab.expect_response(is_stream) as streamed, tab.expect_response(is_post) as generated:
        tab.click("#reader-generate-button")
    assert generated.value.status == 202
    assert streamed.value.status in {200, 206}
    expect(tab.locator("#reader-generate-status")).to_have_text(
        "The audio is ready.", timeout=WAIT_MS
    )
    audio = Audio.objects.get(page=first)
    session.wait_audio(f"audio.dataset.audioId === '{audio.pk}' && !audio.paused")
    # The player, the list and the picker name the voice as the API does.
    expect(tab.locator("#reader-now")).to_have_text(f"Now playing: {ALPHA}")
    row = tab.locator(f'.reader-audio[data-audio-id="{audio.pk}"]')
    expect(row.locator(".reader-audio-voice")).to_have_text(ALPHA)
    expect(tab.locator("#reader-voice option").first).to_have_text("Alpha · Test tones ✓ made")
    expect(row).to_contain_text("Completed")
    expect(row).to_contain_text("made by reader-owner@example.com")
    expect(row.locator(".reader-audio-download")).to_have_attribute(
        "href", f"/api/v1/audios/{audio.pk}/download/"
    )
    expect(tab.locator("#reader-quota")).to_have_text("3 of 4 audios left for this page.")
    expect(tab.locator("#reader-progress")).to_be_hidden()
    session.shot("2-generated")

    # The same voice again is refused, and the person is told why.
    tab.click("#reader-generate-button")
    expect(tab.locator("#reader-generate-status")).to_have_text(
        "Audio in this voice exists or is being made."
    )

    # It plays: the position advances.
    session.wait_audio("!audio.paused && audio.currentTime > 0.5")
    expect(tab.locator("#reader-toggle")).to_have_text("Pause")
    session.shot("3-playing")

    # Speed: faster, with the voice's pitch kept.
    tab.select_option("#reader-speed", "2.0")
    assert session.audio("[audio.playbackRate, audio.preservesPitch]") == [2.0, True]
    expect(tab.locator("#reader-status")).to_have_text("Speed: 2\N{MULTIPLICATION SIGN}")

    # Keys: the right arrow skips 15 s forward, the left one back, space pauses.
    tab.locator(".reader-header h1").click()  # focus leaves the controls
    before = session.audio("audio.currentTime")
    tab.keyboard.press("ArrowRight")
    assert session.audio("audio.currentTime") >= before + 14
    middle = session.audio("audio.currentTime")
    tab.keyboard.press("ArrowLeft")
    assert session.audio("audio.currentTime") <= middle - 14
    with tab.expect_response(lambda response: "/played/" in response.url) as played:
        tab.keyboard.press(" ")
    assert played.value.status == 204
    assert session.audio("audio.paused") is True
    expect(tab.locator("#reader-toggle")).to_have_text("Play")
    stopped_at = session.audio("audio.currentTime")
    position = PlaybackPosition.objects.get(user=owner, audio=audio)
    assert position.position_seconds == pytest.approx(stopped_at, abs=0.5)

    # Typing in a text field is typing, not a shortcut.
    tab.locator("#reader-edit summary").click()
    tab.locator("#reader-markdown").press("End")
    tab.locator("#reader-markdown").press(" ")
    assert session.audio("audio.paused") is True

    # The remembered position comes back on the next visit.
    session.open(f"/pages/{first.pk}/")
    session.wait_audio(f"audio.readyState >= 1 && Math.abs(audio.currentTime - {stopped_at}) < 1")
    assert tab.locator("#reader-speed").input_value() == "2.0"  # the chosen speed is kept

    # Near the end, it carries on into the next page, in the same voice.
    session.audio("audio.currentTime = audio.duration - 0.5")
    tab.click("#reader-toggle")
    # (Without a page load: the next page's text comes in, under its own URL.)
    tab.wait_for_url(f"**/pages/{second.pk}/", timeout=WAIT_MS)
    session.wait_audio(
        f"audio.dataset.audioId === '{waiting.pk}' && !audio.paused && audio.currentTime > 0.2"
    )
    expect(tab.locator(".reader-header h1")).to_have_text("Chapter 2")
    session.shot("4-next-page")

    # On a phone the player stays at the bottom of the screen.
    tab.set_viewport_size({"width": 390, "height": 800})
    assert (
        tab.evaluate("() => getComputedStyle(document.getElementById('reader-player')).position")
        == "fixed"
    )
    # The picker's chosen voice, marked as made, is not cut short on a phone.
    fit = tab.evaluate(PICKER_FIT)
    assert fit["text"] == "Alpha · Test tones ✓ made"
    assert fit["width"] <= fit["room"], fit
    session.tab.screenshot(path=str(ARTIFACTS / "reader-5-phone.png"))

    # The owner deletes the audio (after confirming): it leaves the list and the player.
    tab.set_viewport_size({"width": 1200, "height": 900})
    tab.once("dialog", lambda dialog: dialog.accept())
    with tab.expect_response(lambda response: response.request.method == "DELETE") as deleted:
        tab.click(f'.reader-audio[data-audio-id="{waiting.pk}"] .reader-audio-delete')
    assert deleted.value.status == 204
    expect(tab.locator("#reader-status")).to_have_text("The audio was deleted.")
    expect(tab.locator(".reader-audio")).to_have_count(0)
    expect(tab.locator("#reader-now")).to_have_text("No audio for this page yet.")
    expect(tab.locator("#reader-toggle")).to_be_disabled()
    waiting.refresh_from_db()
    assert waiting.lifetime_status == Audio.Lifetime.DELETED


def test_a_view_only_person_listens_but_is_offered_nothing_else(sessions: Any) -> None:
    from playwright.sync_api import expect

    owner = UserFactory.create(email="reader-alice@example.com")
    listener = UserFactory.create(email="reader-bob@example.com")
    (page,) = spoken_document(owner, pages=1, title="Shared to listen")
    DocumentShare.objects.create(
        document=Document.objects.get(pk=page.document_id),
        shared_with=listener,
        permission="view_only",
        shared_by=owner,
    )
    audio = made_audio(page, owner)
    session = sessions(listener)
    tab = session.tab
    session.open(f"/pages/{page.pk}/")
    expect(tab.locator(".reader-header h1")).to_have_text("Chapter 1")
    assert tab.locator("#reader-generate-button").count() == 0
    assert tab.locator("#reader-voice").count() == 0
    assert tab.locator(".reader-audio-delete").count() == 0
    assert tab.locator("#reader-edit-form").count() == 0
    expect(tab.locator(f'.reader-audio[data-audio-id="{audio.pk}"]')).to_contain_text(
        "made by reader-alice@example.com"
    )
    tab.keyboard.press(" ")  # the shortcut works for listeners too
    session.wait_audio("!audio.paused && audio.currentTime > 0.3")
    session.shot("6-view-only")


def test_a_collaborator_previews_and_saves_an_edit(sessions: Any) -> None:
    from playwright.sync_api import expect

    owner = UserFactory.create(email="reader-owner2@example.com")
    editor = UserFactory.create(email="reader-editor@example.com")
    (page,) = spoken_document(owner, pages=1)
    DocumentShare.objects.create(
        document=Document.objects.get(pk=page.document_id),
        shared_with=editor,
        permission="collaborator",
        shared_by=owner,
    )
    session = sessions(editor)
    tab = session.tab
    session.open(f"/pages/{page.pk}/")
    assert tab.locator(".reader-audio-delete").count() == 0
    tab.locator("#reader-edit summary").click()
    tab.fill("#reader-markdown", "# Rewritten\n\nNew *words* <img src=x onerror=alert(1)>")
    tab.click("#reader-preview-button")
    preview = tab.locator("#reader-preview-body")
    expect(preview.locator("h1")).to_have_text("Rewritten")
    expect(preview.locator("em")).to_have_text("words")
    assert preview.locator("img").count() == 0
    expect(tab.locator("#reader-edit-status")).to_have_text("The preview is shown below.")
    session.shot("7-preview")
    tab.click("#reader-edit-form button[type=submit]")
    expect(tab.locator(".reader-header h1")).to_have_text("Rewritten")
    expect(tab.locator(".messages")).to_contain_text("The page was saved.")
    page.refresh_from_db()
    assert page.markdown.startswith("# Rewritten")


def test_the_sentence_being_read_is_highlighted_and_a_click_seeks_to_it(sessions: Any) -> None:
    from playwright.sync_api import expect

    owner = UserFactory.create(email="reader-along@example.com")
    (page,) = spoken_document(owner, pages=1, title="Read along")
    audio = made_audio(page, owner)
    timings = audio.timings
    assert len(timings) > 5
    session = sessions(owner)
    tab = session.tab
    session.open(f"/pages/{page.pk}/")

    # Each sentence is marked in the formatted page, each mark the timed range.
    sentences = tab.locator("#reader-formatted .reader-sentence")
    expect(sentences).to_have_count(len(timings))
    expect(tab.locator("#reader-formatted h1")).to_have_text("Chapter 1")
    for number in (0, 3):
        expected = page.text[timings[number]["char_start"] : timings[number]["char_end"]]
        expect(sentences.nth(number)).to_have_text(expected)

    # Playing highlights the sentence being read, and only that one.
    tab.click("#reader-toggle")
    session.wait_audio(f"!audio.paused && audio.currentTime > {timings[1]['start'] + 0.1}")
    tab.wait_for_function(
        "() => Number(document.querySelector('.reader-sentence-current')?.dataset.sentence) >= 1",
        timeout=WAIT_MS,
    )
    expect(tab.locator(".reader-sentence-current")).to_have_count(1)
    # Pause, so that time and highlight can be read together; the place in the document is kept.
    with tab.expect_response(lambda response: "/progress/" in response.url) as saved:
        tab.click("#reader-toggle")
    assert saved.value.status == 200
    place = ListeningProgress.objects.get(user=owner, document_id=page.document_id)
    assert (place.page_id, place.audio_id) == (page.pk, audio.pk)
    index, paused_at = session.audio(
        "[Number(document.querySelector('.reader-sentence-current').dataset.sentence),"
        " audio.currentTime]"
    )
    assert timings[index]["start"] <= paused_at < timings[index]["end"]
    session.shot("8-read-along")

    # Clicking a later sentence seeks to its start and highlights it.
    target = len(timings) - 2
    sentences.nth(target).click()
    session.wait_audio(f"audio.currentTime >= {timings[target]['start'] - 0.05}")
    expect(sentences.nth(target)).to_have_class(re.compile("reader-sentence-current"))
    assert session.audio("audio.currentTime") < timings[target]["end"] + 1

    # Shift + left arrow goes back a sentence; not following the text takes the highlight away.
    tab.locator(".reader-header h1").click()
    tab.keyboard.press("Shift+ArrowLeft")
    tab.keyboard.press("Shift+ArrowLeft")
    assert session.audio("audio.currentTime") < timings[target]["start"]
    tab.click("#reader-more summary")  # the player's options are in its menu
    tab.uncheck("#reader-follow-toggle")
    expect(tab.locator(".reader-sentence-current")).to_have_count(0)
    expect(tab.locator("[aria-current='true'].reader-sentence")).to_have_count(0)
    expect(sentences).to_have_count(len(timings))  # still there to listen from


# Sentences the engine speaks before it is held: a browser starts playing an MP3 stream once
# it has a second or two of it.
HOLD_AFTER = 3


@contextmanager
def synthesis_held(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Audio is made by a worker in a thread (not eagerly in the request), whose engine holds
    every sentence after the first HOLD_AFTER until the block ends (or the event it gives is
    set): audio asked for inside the block is surely still being made while the browser plays
    it. The workers are joined after."""
    engine = voices.get_engine("fake")
    assert isinstance(engine, FakeEngine)
    release = threading.Event()
    speak = engine.synthesize

    def held(text: str, *, voice: str) -> Any:
        if len(engine.calls) >= HOLD_AFTER:
            release.wait(timeout=WAIT_MS / 1000)
        return speak(text, voice=voice)

    workers: list[threading.Thread] = []

    def synthesize(audio_id: int) -> None:
        try:
            services.synthesize_audio(audio_id=audio_id)
        finally:
            connection.close()  # this thread's own, which nothing else closes

    def enqueue(audio_id: int) -> None:
        def start() -> None:
            worker = threading.Thread(target=synthesize, args=(audio_id,), daemon=True)
            workers.append(worker)
            worker.start()

        transaction.on_commit(start)

    monkeypatch.setattr(engine, "synthesize", held)
    monkeypatch.setattr(services, "_enqueue_on_commit", enqueue)
    engine.calls.clear()
    try:
        yield release
    finally:
        release.set()
        for worker in workers:
            worker.join(timeout=WAIT_MS / 1000)


VIEWPORTS = {
    "desktop": {"width": 1366, "height": 800},
    "phone": {"width": 390, "height": 844},
}
LISTENING_WHILE_MADE = "Playing from the first sentence while the rest is made."


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_generated_audio_plays_from_its_first_sentence_while_the_rest_is_made(
    sessions: Any, monkeypatch: pytest.MonkeyPatch, size: str
) -> None:
    from playwright.sync_api import expect

    owner = UserFactory.create(email="reader-stream@example.com")
    (page,) = spoken_document(owner, pages=1, title="Streamed")
    Page.objects.filter(pk=page.pk).update(text=SPOKEN.strip(), char_count=len(SPOKEN.strip()))

    session = sessions(owner, viewport=VIEWPORTS[size])
    tab = session.tab
    session.open(f"/pages/{page.pk}/")
    with synthesis_held(monkeypatch):
        tab.click("#reader-generate-button")
        session.wait_audio("!audio.paused && audio.currentTime > 0.3")
        audio = Audio.objects.get(page=page)
        assert audio.status == Audio.Status.GENERATING  # heard before it was made
        assert session.audio("audio.dataset.stream").endswith(f"/api/v1/audios/{audio.pk}/stream/")
        expect(tab.locator("#reader-status")).to_have_text(LISTENING_WHILE_MADE)
        # One progress line for the audio being made, its time counted as it goes; the status
        # beside it says what is happening, with no second clock.
        lines = tab.locator("#reader-progress .reader-progress-line")
        expect(lines).to_have_count(1)
        expect(lines.first).to_contain_text(
            re.compile(r"^Alpha .*: making the audio · \d+:\d\d elapsed")
        )
        first = lines.first.inner_text()
        expect(lines.first).not_to_have_text(first, timeout=WAIT_MS)
        expect(lines).to_have_count(1)
        expect(tab.locator("#reader-generate-status")).to_have_text(f"Making the audio in {ALPHA}…")
        assert not re.search(r"\(\d+ s\)", tab.locator("main").inner_text())
        session.shot(f"9-streaming-{size}")
    expect(tab.locator("#reader-generate-status")).to_have_text(
        "The audio is ready.", timeout=WAIT_MS
    )
    # Made: the line is gone, and so is "playing from the first sentence".
    expect(tab.locator("#reader-progress")).to_be_hidden()
    expect(tab.locator("#reader-progress .reader-progress-line")).to_have_count(0)
    expect(tab.locator("#reader-status")).not_to_have_text(LISTENING_WHILE_MADE)
    audio.refresh_from_db()
    assert audio.status == Audio.Status.COMPLETED
    # The same stream plays on, into the made file, to its end.
    session.audio("audio.playbackRate = 16")
    session.wait_audio("audio.ended")
    assert session.audio(f"Math.abs(audio.duration - {audio.duration_seconds or 0}) < 0.5")


def test_audio_made_before_an_edit_is_marked_and_regenerated_in_its_voice(sessions: Any) -> None:
    from playwright.sync_api import expect

    owner = UserFactory.create(email="reader-outdated@example.com")
    (page,) = spoken_document(owner, pages=1, title="Edited later")
    old = made_audio(page, owner)
    document_services.update_page(
        user=owner, page=page, markdown="# Chapter 1\n\n" + "Other words, read again. " * 10
    )
    session = sessions(owner)
    tab = session.tab
    timings_asked: list[str] = []
    tab.on(
        "request",
        lambda request: timings_asked.append(request.url) if "/timings/" in request.url else None,
    )
    session.open(f"/pages/{page.pk}/")

    # Marked in words, and playing it says so, without reading along.
    row = tab.locator(f'.reader-audio[data-audio-id="{old.pk}"]')
    expect(row.locator(".reader-audio-outdated")).to_have_text(
        "Outdated made before the page was edited"
    )
    expect(tab.locator("#reader-now")).to_have_text(
        f"Now playing: {ALPHA}. This audio was made before the page was edited."
    )
    row.locator(".reader-audio-play").click()
    session.wait_audio(f"audio.dataset.audioId === '{old.pk}' && !audio.paused")
    expect(tab.locator("#reader-formatted")).to_be_visible()
    expect(tab.locator("#reader-formatted .reader-sentence")).to_have_count(0)
    assert timings_asked == []
    session.shot("9-outdated")

    # Regenerate: the same voice again in one step; the old audio goes, the new one plays.
    is_post = lambda response: response.request.method == "POST" and "/audios/" in response.url  # noqa: E731
    with tab.expect_response(is_post) as generated:
        row.locator(".reader-audio-regenerate button").click()
    assert generated.value.status == 202
    expect(tab.locator("#reader-generate-status")).to_have_text(
        "The audio is ready.", timeout=WAIT_MS
    )
    new = Audio.objects.get(page=page, lifetime_status=Audio.Lifetime.ACTIVE)
    assert (new.voice, new.replaces_id) == ("fake:alpha", old.pk)
    expect(row).to_have_count(0)
    fresh = tab.locator(f'.reader-audio[data-audio-id="{new.pk}"]')
    expect(fresh).to_contain_text("Completed")
    expect(fresh.locator(".reader-audio-outdated")).to_be_hidden()
    expect(fresh.locator(".reader-audio-regenerate")).to_be_hidden()
    session.wait_audio(f"audio.dataset.audioId === '{new.pk}' && !audio.paused")
    expect(tab.locator("#reader-now")).to_have_text(f"Now playing: {ALPHA}")
    # No further slot: the replaced audio held it.
    expect(tab.locator("#reader-quota")).to_have_text("3 of 4 audios left for this page.")
    assert session.console_errors == []
    session.shot("10-regenerated")


# --- Reading along in the formatted page, and the reader without JavaScript --------------------

SIZES = {"wide": {"width": 1366, "height": 800}, "phone": {"width": 390, "height": 844}}

# A page with what Markdown gives a page: headings, emphasis, a link, a list, a table.
FORMATTED = """# Reading notes

A first paragraph with *some emphasis* and a [link to the library]({library}). It has a second \
sentence, long enough to hear.

## A short list

- The first item is short.
- The second item has **strong words** in it.

| Name | Age |
|------|-----|
| Ann  | 30  |

A closing paragraph that is long enough to hear. The last sentence ends here.
"""

# Each marked sentence's text (its marks together), by its number.
MARKED = """() => {
  const found = {};
  for (const mark of document.querySelectorAll("#reader-formatted .reader-sentence")) {
    found[mark.dataset.sentence] = (found[mark.dataset.sentence] || "") + mark.textContent + " ";
  }
  return found;
}"""
# The sentence that has the focus (not a link in it), by its number.
FOCUSED = """() => {
  const mark = document.activeElement;
  return mark.matches("#reader-formatted .reader-sentence") ? Number(mark.dataset.sentence) : null;
}"""
SPOKEN_NOW = """() => {
  const mark = document.querySelector("#reader-formatted .reader-sentence[aria-current='true']");
  return mark ? Number(mark.dataset.sentence) : null;
}"""
TAB_STOPS = """() => Array.from(document.querySelectorAll("#reader-formatted [tabindex='0']"),
  (mark) => Number(mark.dataset.sentence))"""


def formatted_page(owner: User, library_url: str) -> Page:
    document = document_with_pages(owner=owner, pages=1, title="Formatted")
    page = document.pages.get()
    data = page_from_markdown(FORMATTED.format(library=library_url), number=1)
    Page.objects.filter(pk=page.pk).update(
        markdown=data.markdown, text=data.text, char_count=data.char_count, title=data.title
    )
    page.refresh_from_db()
    return page


def no_spaces(text: str) -> str:
    return "".join(text.split())


def tab_into_text(tab: Tab) -> int | None:
    """Presses Tab from the page's title until the focus is on a sentence; that sentence."""
    tab.locator(".reader-header h1").click()
    for _ in range(20):
        tab.keyboard.press("Tab")
        if tab.evaluate(FOCUSED) is not None:
            break
    focused: int | None = tab.evaluate(FOCUSED)
    return focused


@pytest.mark.parametrize("name", SIZES)
def test_the_formatted_page_is_read_along_and_its_sentences_reached_by_keyboard(
    sessions: Any, name: str
) -> None:
    from playwright.sync_api import expect

    owner = UserFactory.create(email=f"along-{name}@example.com")
    session = sessions(owner)
    tab = session.tab
    tab.set_viewport_size(SIZES[name])
    page = formatted_page(owner, f"{session.base}/library/")
    timings = made_audio(page, owner).timings
    session.open(f"/pages/{page.pk}/")
    text = tab.locator("#reader-formatted")
    expect(text.locator(".reader-sentence").first).to_be_attached()

    # The page stays as it is formatted, its sentences marked inside it.
    expect(text.locator("h1")).to_have_text("Reading notes")
    expect(text.locator("h2")).to_have_text("A short list")
    expect(text.locator("li")).to_have_count(2)
    expect(text.locator("table td").first).to_have_text("Ann")
    expect(text.locator(".reader-sentence em")).to_have_text("some emphasis")
    expect(text.locator(".reader-sentence strong")).to_have_text("strong words")
    expect(text.locator(".reader-sentence a")).to_have_attribute("href", f"{session.base}/library/")
    expect(text.locator("li .reader-sentence")).to_have_count(2)
    # Every sentence is marked as the audio's timings have it; the table's row, which is read
    # differently from how it is shown ("Name: Ann, Age: 30."), may be left unmarked.
    marked = tab.evaluate(MARKED)
    spoken = [page.text[timing["char_start"] : timing["char_end"]] for timing in timings]
    for number, sentence in enumerate(spoken):
        if "Ann" in sentence:
            continue
        assert no_spaces(marked.get(str(number), "")) == no_spaces(sentence), (number, marked)
    assert len(marked) >= len(spoken) - 1

    # One tab stop in the text: the first sentence; the arrows move from sentence to sentence.
    assert tab.evaluate(TAB_STOPS) == [0]
    assert tab_into_text(tab) == 0
    expect(tab.locator("#reader-sentence-help")).to_be_hidden()
    assert tab.evaluate("() => document.activeElement.getAttribute('aria-describedby')") == (
        "reader-sentence-help"
    )
    tab.keyboard.press("ArrowDown")
    tab.keyboard.press("ArrowRight")
    assert tab.evaluate(FOCUSED) == 2
    tab.keyboard.press("ArrowUp")
    assert tab.evaluate(FOCUSED) == 1
    assert tab.evaluate(TAB_STOPS) == [1]
    assert session.audio("audio.paused") is True  # the arrows only move through the text

    # Enter plays from the focused sentence, which is then the one said to be read.
    tab.keyboard.press("Enter")
    session.wait_audio(f"!audio.paused && audio.currentTime >= {timings[1]['start'] - 0.05}")
    index, at = session.audio(
        "[Number(document.querySelector('.reader-sentence[aria-current]').dataset.sentence),"
        " audio.currentTime]"
    )
    assert (index, tab.evaluate(FOCUSED)) == (1, 1)
    assert at < timings[1]["end"] + 1
    # The highlight follows the reading, and Tab comes back into the text where it is.
    tab.locator(".reader-header h1").click()
    session.audio("audio.playbackRate = 2")
    tab.wait_for_function(f"() => ({SPOKEN_NOW})() >= 2", timeout=WAIT_MS)
    expect(tab.locator("#reader-formatted [aria-current='true']")).to_have_count(1)
    tab.wait_for_function(f"() => ({TAB_STOPS})()[0] === ({SPOKEN_NOW})()", timeout=WAIT_MS)
    session.audio("audio.pause()")
    assert tab_into_text(tab) == tab.evaluate(SPOKEN_NOW)

    # Space on a sentence plays from it too; End goes to the last sentence.
    tab.keyboard.press("End")
    last = max(int(number) for number in marked)
    assert tab.evaluate(FOCUSED) == last
    tab.keyboard.press("ArrowUp")
    tab.keyboard.press(" ")
    session.wait_audio(f"audio.currentTime >= {timings[last - 1]['start'] - 0.05}")
    tab.wait_for_function(f"() => ({SPOKEN_NOW})() === {last - 1}", timeout=WAIT_MS)
    session.audio("audio.pause()")
    expect(text.locator(f'[data-sentence="{last - 1}"]')).to_have_class(
        re.compile("reader-sentence-current")
    )
    session.shot(f"read-along-{name}")
    assert axe_violations(tab) == []

    # A link in the text is followed, not taken for a sentence to listen from.
    text.locator("a").click()
    tab.wait_for_url("**/library/", timeout=WAIT_MS)


@pytest.mark.parametrize("name", SIZES)
def test_without_javascript_the_reader_offers_the_browsers_player(sessions: Any, name: str) -> None:
    from playwright.sync_api import expect

    owner = UserFactory.create(email=f"noscript-{name}@example.com")
    (page,) = spoken_document(owner, pages=1, title="Without scripts")
    audio = made_audio(page, owner)
    session = sessions(owner, javascript=False)
    tab = session.tab
    tab.set_viewport_size(SIZES[name])
    session.open(f"/pages/{page.pk}/")

    native = tab.locator("#reader-native-audio")
    expect(native).to_be_visible()
    expect(native).to_have_attribute("controls", "")
    expect(native).to_have_attribute("src", f"/api/v1/audios/{audio.pk}/download/")
    expect(tab.locator(".reader-native .reader-now")).to_have_text(f"Now playing: {ALPHA}")
    # Nothing that needs the script is shown.
    for control in (
        "#reader-toggle", "#reader-back", "#reader-forward", "#reader-seekbar", "#reader-speed",
        "#reader-more", ".reader-audio-play", ".reader-audio-delete", "#reader-voice-preview",
    ):  # fmt: skip
        expect(tab.locator(control)).to_be_hidden()
    # What works without it is: the text, downloading, asking for audio, the pages.
    expect(tab.locator("#reader-formatted h1")).to_have_text("Chapter 1")
    expect(tab.locator(".reader-sentence")).to_have_count(0)
    expect(tab.locator(".reader-audio-download")).to_be_visible()
    expect(tab.locator("#reader-generate-button")).to_be_visible()
    expect(tab.locator("#reader-goto")).to_be_visible()
    # The browser's player fits the screen, in the bar at its bottom.
    box = native.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= SIZES[name]["width"]
    assert box["y"] + box["height"] <= SIZES[name]["height"]
    # Named by what it plays. (axe-core cannot run here: it needs timers, which do not run in a
    # page without scripts.)
    expect(native).to_have_accessible_name(f"Now playing: {ALPHA}")
    session.shot(f"no-script-{name}")

    # Audio in another voice is asked for with the form itself; then chosen by a link.
    tab.select_option("#reader-voice", "fake:beta")
    tab.click("#reader-generate-button")
    expect(tab.locator(".messages")).to_contain_text("is being made.")
    beta = Audio.objects.get(page=page, voice="fake:beta")
    assert beta.status == Audio.Status.COMPLETED
    tab.locator(f'.reader-audio[data-audio-id="{beta.pk}"] .reader-audio-choose').click()
    expect(native).to_have_attribute("src", f"/api/v1/audios/{beta.pk}/download/")
