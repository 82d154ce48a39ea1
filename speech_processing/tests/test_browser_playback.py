"""A made audio plays and seeks in a real browser (Debian's Chromium, headless)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from core.tests.browser import CHROMIUM, CHROMIUM_ARGS, E2E_MARKS
from document_processing.models import Page
from document_processing.tests.factories import document_with_pages
from speech_processing import services
from speech_processing.models import Audio
from users.tests.factories import UserFactory

pytestmark = E2E_MARKS


@pytest.fixture
def allow_sync_db_under_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    # Playwright's sync API runs an event loop in this thread; the ORM calls here are sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def test_audio_plays_and_seeks_in_chromium(
    live_server: Any, allow_sync_db_under_playwright: None
) -> None:
    from playwright.sync_api import sync_playwright

    owner = UserFactory.create(email="listener@example.com")
    page = document_with_pages(owner=owner, pages=1).pages.get()
    Page.objects.filter(pk=page.pk).update(text="A sentence to listen to. " * 40)
    audio = services.create_audio_record(page=page, voice="fake:alpha", user=owner)
    services.synthesize_audio(audio_id=audio.pk)
    audio.refresh_from_db()
    assert audio.status == Audio.Status.COMPLETED
    assert (audio.duration_seconds or 0) > 30

    client = Client()
    client.force_login(owner)
    session = client.cookies["sessionid"].value

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
            tab = context.new_page()
            tab.goto(f"{live_server.url}/health/live/")
            result = tab.evaluate(
                """async (src) => {
                    const audio = new Audio(src);
                    audio.muted = true;
                    await new Promise((ok, fail) => {
                        audio.onloadedmetadata = ok; audio.onerror = () => fail(audio.error);
                    });
                    await audio.play();
                    await new Promise((ok) => setTimeout(ok, 1500));
                    const played = audio.currentTime;
                    audio.currentTime = audio.duration - 5;
                    await new Promise((ok) => { audio.onseeked = ok; });
                    return {duration: audio.duration, played, seekedTo: audio.currentTime,
                            seekable: audio.seekable.length ? audio.seekable.end(0) : 0};
                }""",
                f"/api/v1/audios/{audio.pk}/download/",
            )
        finally:
            browser.close()
    assert result["duration"] == pytest.approx(audio.duration_seconds, abs=1.0)
    assert result["played"] > 0.5  # the position advanced while playing
    assert result["seekable"] == pytest.approx(result["duration"], abs=1.0)
    assert result["seekedTo"] == pytest.approx(result["duration"] - 5, abs=1.0)
