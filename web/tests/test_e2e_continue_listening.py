"""The place saved as a page is left, in a real browser (Debian's Chromium, headless): the
library's "Continue listening" shows the page left and the time in it, and resumes there.

Screenshots are written under e2e-artifacts/ (git-ignored).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from core.tests.browser import E2E_MARKS
from speech_processing.models import ListeningProgress
from users.tests.factories import UserFactory

# The logged-in sessions and the documents of the reader's own browser tests.
from web.tests.test_e2e_reader import (  # noqa: F401
    ARTIFACTS,
    WAIT_MS,
    made_audio,
    sessions,
    spoken_document,
)

pytestmark = E2E_MARKS

DESKTOP = {"width": 1366, "height": 800}
PHONE = {"width": 390, "height": 844}
# The page's script has set its player up (it draws the seek bar): a click on play is heard.
PLAYER_READY = (
    "() => document.getElementById('reader-seekbar').style.getPropertyValue('--played') !== ''"
)


def shot(tab: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"continue-{name}.png"), full_page=True)


@pytest.mark.parametrize(("size", "name"), [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_leaving_a_page_mid_listen_shows_that_page_and_time_in_the_library(
    sessions: Any,  # noqa: F811
    size: dict[str, int],
    name: str,
) -> None:
    from playwright.sync_api import expect

    owner = UserFactory.create(email=f"continue-{name}@example.com")
    first, second, _third = spoken_document(owner, pages=3, title="Left mid-page")
    made_audio(first, owner)
    heard = made_audio(second, owner)
    session = sessions(owner)
    tab = session.tab
    tab.set_viewport_size(size)

    # A little of the first page, then on to the next one by its link.
    session.open(f"/pages/{first.pk}/")
    tab.wait_for_function(PLAYER_READY, timeout=WAIT_MS)
    tab.click("#reader-toggle")
    session.wait_audio("!audio.paused && audio.currentTime > 1")
    tab.click("a.reader-next")
    expect(tab.locator(".reader-header h1")).to_have_text("Chapter 2")

    # Twenty seconds into the second page, the listener goes to the library.
    tab.wait_for_function(PLAYER_READY, timeout=WAIT_MS)
    tab.click("#reader-toggle")
    session.wait_audio("!audio.paused && audio.currentTime > 0.2")
    session.audio("audio.currentTime = 20")
    session.wait_audio("!audio.paused && audio.currentTime > 21")
    tab.get_by_role("link", name="Library").first.click()

    item = tab.locator(".continue-item").filter(has_text="Left mid-page")
    expect(item).to_contain_text(re.compile(r"Page 2 of 3 · 0:2[1-9]"), timeout=WAIT_MS)
    shot(tab, name)
    place = ListeningProgress.objects.get(user=owner)
    assert place.page_id == second.pk
    assert place.audio_id == heard.pk
    assert 21 <= place.position_seconds < 30
    link = item.get_by_role("link", name="Left mid-page")
    expect(link).to_have_attribute("href", f"/pages/{second.pk}/?audio={heard.pk}")

    # Its link opens that page with that audio, at that time.
    link.click()
    expect(tab.locator(".reader-header h1")).to_have_text("Chapter 2")
    session.wait_audio(
        f"audio.dataset.audioId === '{heard.pk}'"
        f" && Math.abs(audio.currentTime - {place.position_seconds}) < 0.5"
    )
