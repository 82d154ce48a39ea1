"""Audio for a whole document in a real browser (Debian's Chromium, headless): one press makes
every page's audio, and the document page follows the work to the end without a reload; an
audiobook being made shows the same progress, then its download.

The workers are held back: each page's audio (and each step of the audiobook) is made by the
test when it chooses, so every state of the progress is seen, and nothing waits on time.
Screenshots go to e2e-artifacts/whole-audio/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client

from core.tests.browser import E2E_MARKS
from document_processing.models import Document
from document_processing.tests.factories import document_with_pages
from speech_processing import audiobooks, services
from speech_processing.audiobooks import Step, advance_audiobook
from speech_processing.models import Audio, Audiobook
from users.models import User
from users.tests.factories import UserFactory

if TYPE_CHECKING:
    from playwright.sync_api import Browser
    from playwright.sync_api import Page as Tab

ARTIFACTS = Path(settings.BASE_DIR) / "e2e-artifacts" / "whole-audio"
# How long the page may take to show what the test waits for (not a speed assertion).
WAIT_MS = 20_000

pytestmark = E2E_MARKS


class Held:
    """Work queued by the server (in its own thread) that this test runs itself."""

    def __init__(self) -> None:
        self.audio: list[int] = []
        self.books: list[int] = []

    def queue_audio(self, audio_id: int) -> None:
        transaction.on_commit(lambda: self.audio.append(audio_id))

    def queue(self, task: str, *args: Any) -> None:
        assert task.endswith("make_audiobook_task")
        transaction.on_commit(lambda: self.books.append(int(args[0])))

    def wait_for_audio(self, count: int) -> None:
        deadline = time.monotonic() + WAIT_MS / 1000
        while len(self.audio) < count:
            assert time.monotonic() < deadline, f"{len(self.audio)} of {count} audios queued"
            time.sleep(0.05)

    def make_audio(self, count: int) -> None:
        for audio_id in self.audio[:count]:
            services.synthesize_audio(audio_id=audio_id)
        del self.audio[:count]


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Held:
    work = Held()
    monkeypatch.setattr(services, "_enqueue_on_commit", work.queue_audio)
    monkeypatch.setattr(audiobooks, "enqueue_on_commit", work.queue)
    return work


@pytest.fixture
def open_as(browser: Browser, live_server: Any) -> Iterator[Any]:
    contexts: list[Any] = []
    foreign: list[str] = []
    errors: list[str] = []
    own = urlsplit(live_server.url).netloc

    def route(request_route: Any) -> None:
        if urlsplit(request_route.request.url).netloc not in {own, ""}:
            foreign.append(request_route.request.url)
            request_route.abort()
        else:
            request_route.continue_()

    def open_page(user: User, path: str) -> Tab:
        client = Client()
        client.force_login(user)
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 1100, "height": 900}
        )
        context.set_default_timeout(WAIT_MS)
        context.add_cookies(
            [{"name": "sessionid", "value": client.cookies["sessionid"].value,
              "url": live_server.url}]
        )  # fmt: skip
        context.route("**/*", route)
        contexts.append(context)
        tab = context.new_page()
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tab.goto(path)
        return tab

    yield open_page
    for context in contexts:
        context.close()
    assert foreign == [], "the page asked another host for something"
    assert errors == []


def shoot(tab: Tab, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_one_press_makes_every_pages_audio_and_the_page_follows_it_to_the_end(
    live_server: Any, held: Held, open_as: Any
) -> None:
    from playwright.sync_api import expect

    owner = UserFactory.create(email="whole-owner@example.com")
    document = document_with_pages(owner=owner, pages=3, title="Harbour notes")
    tab = open_as(owner, f"/documents/{document.pk}/")
    status = tab.locator("#audio-progress-text")
    bar = tab.locator("#audio-progress progress")
    expect(status).to_have_text("No page has audio in this voice yet.")
    tab.evaluate("window.sameDocument = true")  # gone if the page were loaded again
    shoot(tab, "1-before")

    tab.select_option("#make-audio-voice", "fake:beta")
    with tab.expect_response(
        lambda response: response.url.endswith(f"/api/v1/documents/{document.pk}/audios/")
    ) as asked:
        tab.click("text=Make audio for every page")
    assert asked.value.status == 202
    held.wait_for_audio(3)
    expect(status).to_have_text("0 of 3 pages made · estimating the time left")
    expect(tab.locator("#announcer")).to_have_text("Making the audio of every page.")
    shoot(tab, "2-queued")

    # A worker makes the first page: the page says so, with the time the rest should take.
    held.make_audio(1)
    expect(status).to_contain_text("1 of 3 pages made · about ")
    expect(status).to_contain_text(" left")
    expect(bar).to_have_js_property("value", 1)
    shoot(tab, "3-one-made")

    held.make_audio(2)
    expect(status).to_have_text("Every page has audio in this voice.")
    expect(bar).to_have_js_property("value", 3)
    expect(tab.locator("#announcer")).to_have_text("The audio of every page is made.")
    # The pages' own badges are drawn again by the server.
    expect(tab.locator(".page-row .badge", has_text="1 audio ready")).to_have_count(3)
    assert tab.evaluate("window.sameDocument") is True
    assert tab.url.endswith("?voice=fake%3Abeta")  # a reload shows the same voice
    shoot(tab, "4-done")
    made = Audio.objects.filter(page__document=document, voice="fake:beta")
    assert set(made.values_list("status", flat=True)) == {Audio.Status.COMPLETED}
    assert made.count() == 3


def test_an_audiobook_shows_its_pages_being_made_then_its_download(
    live_server: Any, held: Held, open_as: Any
) -> None:
    from playwright.sync_api import expect

    owner = UserFactory.create(email="whole-book@example.com")
    document = document_with_pages(owner=owner, pages=3, title="Tide tables")
    tab = open_as(owner, f"/documents/{document.pk}/")
    tab.select_option("#audiobook-voice", "fake:alpha")
    tab.click("text=Make the audiobook")
    tab.wait_for_url(f"**/documents/{document.pk}/")  # a plain form: the page comes back
    [book_id] = held.books
    row = tab.locator(f"#audiobook-{book_id}")
    text = row.locator("[data-progress-text]")
    expect(text).to_have_text("0 of 3 pages made · estimating the time left")
    tab.evaluate("window.sameDocument = true")

    # The job's first step asks for every page; the workers make them one by one.
    assert advance_audiobook(audiobook_id=book_id) is Step.WAITING
    held.wait_for_audio(3)
    held.make_audio(1)
    expect(text).to_contain_text("1 of 3 pages made · about ")
    shoot(tab, "5-book-one-page")
    held.make_audio(2)
    expect(text).to_have_text("Every page is made; joining them into one file.")

    # The next step joins them: the row becomes the download, named after the document.
    assert advance_audiobook(audiobook_id=book_id) is Step.DONE
    link = tab.locator(f"#audiobook-{book_id} a[download]")
    expect(link).to_have_text("Download Tide tables.m4b")
    expect(link).to_have_attribute("download", "Tide tables.m4b")
    expect(tab.locator("#announcer")).to_have_text("The audiobook is ready.")
    expect(tab.locator(f"#audiobook-{book_id}")).to_contain_text("Up to date with the pages")
    # The pages' audio the book made shows in the rest of the page.
    expect(tab.locator("#audio-progress-text")).to_have_text("Every page has audio in this voice.")
    expect(tab.locator(".page-row .badge", has_text="1 audio ready")).to_have_count(3)
    # Made from the pages' audio as it is: not offered again in that voice.
    assert tab.locator("#audiobook-voice option[value='fake:alpha']").count() == 0
    assert tab.evaluate("window.sameDocument") is True
    shoot(tab, "6-book-ready")
    assert Audiobook.objects.get(pk=book_id).status == Audiobook.Status.COMPLETED
    assert Document.objects.filter(pk=document.pk).exists()
