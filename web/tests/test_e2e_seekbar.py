"""The seek bar while the audio is made, in a real browser (Debian's Chromium, headless): what is
made so far, seeking within it, and a skip past it that plays once that point is made.

Screenshots are written under e2e-artifacts/ (git-ignored).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from core.tests.browser import E2E_MARKS
from document_processing.models import Page
from speech_processing.models import Audio
from users.tests.factories import UserFactory

# The logged-in sessions and the documents of the reader's own browser tests.
from web.tests.test_e2e_reader import (  # noqa: F401
    ARTIFACTS,
    SPOKEN,
    WAIT_MS,
    sessions,
    spoken_document,
    synthesis_held,
)

pytestmark = E2E_MARKS

DESKTOP = {"width": 1366, "height": 800}
PHONE = {"width": 390, "height": 844}

# The bar as the script drew it, and what the element can play.
BAR = """() => {
  const audio = document.getElementById('reader-audio');
  const bar = document.getElementById('reader-seekbar');
  const ranges = audio.buffered;
  return {
    max: Number(bar.max), value: Number(bar.value),
    text: bar.getAttribute('aria-valuetext'), madeSoFar: bar.hasAttribute('data-made-so-far'),
    played: parseFloat(bar.style.getPropertyValue('--played')),
    made: parseFloat(bar.style.getPropertyValue('--made')),
    buffered: ranges.length ? ranges.end(ranges.length - 1) : 0,
    time: audio.currentTime, paused: audio.paused,
    seeks: window.seeks || [],
  };
}"""


def shot(tab: Any, name: str) -> None:
    """The screen as the listener sees it, the player bar at its foot."""
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"seekbar-{name}.png"))


@pytest.mark.parametrize(("size", "name"), [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_the_bar_shows_what_is_made_so_far_and_a_skip_past_it_plays_once_made(
    sessions: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    size: dict[str, int],
    name: str,
) -> None:
    from playwright.sync_api import expect

    owner = UserFactory.create(email=f"seek-{name}@example.com")
    (page,) = spoken_document(owner, pages=1, title="Made while heard")
    Page.objects.filter(pk=page.pk).update(text=SPOKEN.strip(), char_count=len(SPOKEN.strip()))
    session = sessions(owner)
    tab = session.tab
    tab.set_viewport_size(size)
    session.open(f"/pages/{page.pk}/")
    status = tab.locator("#reader-seek-status")
    with synthesis_held(monkeypatch) as release:
        tab.click("#reader-generate-button")
        session.wait_audio("!audio.paused && audio.currentTime > 0.3")
        # Where the player lands after each seek, to tell a jump from playing on.
        tab.evaluate(
            "() => { window.seeks = []; document.getElementById('reader-audio')"
            ".addEventListener('seeked', (e) => window.seeks.push(e.target.currentTime)); }"
        )
        # Three sentences (about 9 s) are made, the rest held: the bar ends where they end.
        tab.wait_for_function(
            "() => { const bar = document.getElementById('reader-seekbar');"
            " return bar.hasAttribute('data-made-so-far') && Number(bar.max) > 6; }",
            timeout=WAIT_MS,
        )
        assert Audio.objects.get(page=page).status == Audio.Status.GENERATING
        bar = tab.evaluate(BAR)
        assert bar["max"] == pytest.approx(bar["buffered"], abs=0.3)
        assert bar["made"] == 100  # all of the bar is made so far
        assert 0 < bar["played"] < 100
        assert re.fullmatch(r"0:0\d of 0:(0[6-9]|1\d) made so far", bar["text"]), bar["text"]
        expect(status).to_be_empty()
        shot(tab, f"{name}-made-so-far")

        # Within what is made, a seek goes there at once.
        tab.locator("#reader-seekbar").fill("4")
        session.wait_audio("audio.currentTime >= 4 && audio.currentTime < 6")
        expect(status).to_be_empty()

        # A skip past it waits there, saying so, while the audio plays on where it is.
        tab.click("#reader-forward")
        expect(status).to_have_text(re.compile(r"Making… \(will play from 0:(19|2\d)\)"))
        waited = int(re.search(r"0:(\d\d)", status.inner_text()).group(1))  # type: ignore[union-attr]
        bar = tab.evaluate(BAR)
        assert not bar["paused"]
        assert bar["time"] < waited - 5  # not there yet
        assert bar["max"] >= waited  # the bar reaches the point waited for ...
        assert bar["made"] < 100  # ... past what is made
        expect(tab.locator("#reader-now")).to_be_hidden()  # the message takes its line
        shot(tab, f"{name}-making")

        # The rest is made: the player goes there and plays on.
        release.set()
        expect(status).to_be_empty(timeout=WAIT_MS)
        session.wait_audio(f"audio.currentTime >= {waited} && !audio.paused")
        bar = tab.evaluate(BAR)
        assert any(waited <= seek < waited + 1 for seek in bar["seeks"]), bar["seeks"]
        shot(tab, f"{name}-arrived")

    # Once made, the bar is the whole audio.
    expect(tab.locator("#reader-generate-status")).to_have_text(
        "The audio is ready.", timeout=WAIT_MS
    )
    audio = Audio.objects.get(page=page)
    assert audio.duration_seconds
    tab.wait_for_function(
        "() => !document.getElementById('reader-seekbar').hasAttribute('data-made-so-far')",
        timeout=WAIT_MS,
    )
    bar = tab.evaluate(BAR)
    assert bar["max"] == pytest.approx(audio.duration_seconds, abs=1)
    assert bar["made"] == 100
    assert re.fullmatch(r"0:\d\d of 0:(29|3\d)", bar["text"]), bar["text"]
