"""The reader's player bar and continuous play, in a real browser (Debian's Chromium, headless).

Screenshots are written under e2e-artifacts/ (git-ignored).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import NoReverseMatch, reverse

from core.tests.browser import E2E_MARKS
from document_processing.extraction import page_from_markdown
from document_processing.models import Page
from document_processing.tests.factories import document_with_pages
from sharing.models import DocumentShare
from speech_processing.models import Audio
from users.tests.factories import UserFactory

# The logged-in sessions and the documents of the reader's own browser tests.
from web.tests.test_e2e_reader import (  # noqa: F401
    ALPHA,
    ARTIFACTS,
    HOLD_AFTER,
    SPOKEN,
    WAIT_MS,
    made_audio,
    sessions,
    spoken_document,
    synthesis_held,
)

pytestmark = E2E_MARKS

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
TABLET = {"width": 820, "height": 1180}

# Where each control of the bar is, and the bar's own box, as the browser lays them out.
BAR_BOXES = """() => {
  const box = (id) => {
    const r = document.getElementById(id).getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, height: r.height};
  };
  return {
    bar: box('reader-player'), toggle: box('reader-toggle'), back: box('reader-back'),
    forward: box('reader-forward'), seek: box('reader-seekbar'), time: box('reader-time'),
    speed: box('reader-speed'), listen: box('reader-listen'),
    viewport: {width: window.innerWidth, height: window.innerHeight},
  };
}"""


def playlist_exists() -> bool:
    try:
        reverse("document-playlist", kwargs={"pk": 1})
    except NoReverseMatch:
        return False
    return True


needs_playlist = pytest.mark.skipif(
    not playlist_exists(),
    reason="needs the playlist and bulk audio endpoints (GET /api/v1/documents/{id}/playlist/)",
)


def long_page(owner: Any) -> Page:
    """A page many screens long: its text must scroll under the bar."""
    document = document_with_pages(owner=owner, pages=1, title="A long read")
    page = document.pages.get()
    paragraphs = "\n\n".join(f"Paragraph {number}. {SPOKEN}" for number in range(1, 25))
    markdown = f"# The long chapter\n\n{paragraphs}\n\nThe very last line."
    data = page_from_markdown(markdown, number=1)
    Page.objects.filter(pk=page.pk).update(
        markdown=data.markdown, text=data.text, char_count=data.char_count, title=data.title
    )
    page.refresh_from_db()
    return page


def assert_within(inner: dict[str, float], viewport: dict[str, float], what: str) -> None:
    assert inner["height"] > 0, f"{what} is shown"
    assert inner["top"] >= 0, what
    assert inner["bottom"] <= viewport["height"], what
    assert inner["left"] >= 0, what
    assert inner["right"] <= viewport["width"], what


@pytest.mark.parametrize(
    ("size", "name"), [(DESKTOP, "desktop"), (TABLET, "tablet"), (PHONE, "phone")]
)
def test_the_player_stays_in_reach_while_a_long_page_scrolls(
    sessions: Any,  # noqa: F811
    size: dict[str, int],
    name: str,
) -> None:
    from playwright.sync_api import expect

    owner = UserFactory.create(email=f"bar-{name}@example.com")
    page = long_page(owner)
    made_audio(page, owner)
    session = sessions(owner)
    tab = session.tab
    tab.set_viewport_size(size)
    session.open(f"/pages/{page.pk}/")
    expect(tab.locator("#reader-toggle")).to_be_enabled()
    expect(tab.locator("#reader-listen")).to_be_visible()
    # The sentences are marked in the text to read along.
    expect(tab.locator("#reader-formatted .reader-sentence").first).to_be_visible()
    scrollable = tab.evaluate("() => document.documentElement.scrollHeight - window.innerHeight")
    assert scrollable > 3 * size["height"], "the page is long enough to scroll"

    for where in ("top", "middle", "bottom"):
        target = {"top": 0, "middle": scrollable // 2, "bottom": scrollable}[where]
        tab.evaluate(f"() => window.scrollTo(0, {target})")
        tab.wait_for_function(f"() => Math.abs(window.scrollY - {target}) < 2")
        tab.screenshot(path=str(ARTIFACTS / f"player-{name}-{where}.png"))
        boxes = tab.evaluate(BAR_BOXES)
        viewport = boxes["viewport"]
        for control in ("toggle", "back", "forward", "seek", "time", "speed", "listen"):
            assert_within(boxes[control], viewport, f"{control} at the {where} ({name})")
        assert boxes["bar"]["bottom"] == pytest.approx(viewport["height"], abs=1)
        if name == "phone":
            assert boxes["bar"]["height"] <= 0.15 * viewport["height"], boxes["bar"]

    # At the bottom, the last of the page (the footer's line) is above the bar, not under it.
    last_box = tab.locator(".site-footer p").bounding_box()
    assert last_box is not None
    assert last_box["y"] + last_box["height"] <= boxes["bar"]["top"]

    # The secondary options are in a menu that opens from the keyboard, above the bar.
    follow = tab.locator("#reader-follow-toggle")
    expect(follow).to_be_hidden()
    tab.locator("#reader-more summary").focus()
    tab.keyboard.press("Enter")
    expect(follow).to_be_visible()
    panel = tab.evaluate(
        "() => document.querySelector('.reader-more-panel').getBoundingClientRect().top"
    )
    assert panel >= 0
    tab.screenshot(path=str(ARTIFACTS / f"player-{name}-menu.png"))
    tab.keyboard.press("Tab")  # into the menu
    tab.keyboard.press("Escape")
    expect(follow).to_be_hidden()
    expect(tab.locator("#reader-more summary")).to_be_focused()

    # Focus on the play button is drawn.
    tab.locator("#reader-toggle").focus()
    tab.keyboard.press("Shift+Tab")
    tab.keyboard.press("Tab")
    outline = tab.evaluate(
        "() => getComputedStyle(document.getElementById('reader-toggle')).outlineStyle"
    )
    assert outline != "none"


def record_audio_events(tab: Any) -> None:
    """Keeps every play and ended of the player's audio element (with the audio's id) in
    window.playerEvents; a page load would lose them, so they also prove none happened."""
    tab.evaluate(
        """() => {
          const audio = document.getElementById('reader-audio');
          window.playerEvents = [];
          for (const type of ['play', 'ended']) {
            audio.addEventListener(type, () =>
              window.playerEvents.push(type + ':' + audio.dataset.audioId));
          }
        }"""
    )


def finish_current(session: Any, audio: Audio) -> None:
    """Waits for `audio` to play, then jumps close to its end so the test need not listen.

    (Audio still coming through its stream has a length once the stream has ended.)"""
    session.wait_audio(
        f"audio.dataset.audioId === '{audio.pk}' && !audio.paused && audio.readyState >= 1"
        " && Number.isFinite(audio.duration)"
    )
    session.audio("audio.currentTime = Math.max(audio.duration - 0.3, 0)")


@needs_playlist
def test_one_press_plays_every_page_to_the_end(sessions: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    owner = UserFactory.create(email="listen-owner@example.com")
    pages = spoken_document(owner, pages=4, title="Four pages")
    audios = [made_audio(page, owner) for page in pages]
    session = sessions(owner)
    tab = session.tab
    session.open(f"/pages/{pages[0].pk}/")
    record_audio_events(tab)

    tab.click("#reader-listen")
    expect(tab.locator("#reader-listen")).to_have_attribute("aria-pressed", "true")
    for number, (page, audio) in enumerate(zip(pages, audios, strict=True), start=1):
        expect(tab.locator(".reader-header h1")).to_have_text(f"Chapter {number}")
        assert tab.evaluate("() => location.pathname") == f"/pages/{page.pk}/"
        expect(tab.locator("#reader-goto")).to_have_value(str(page.pk))
        if number > 1:  # a new page is said to screen readers too
            said = f"Page {number}: Chapter {number}, {ALPHA}"
            expect(tab.locator("#reader-turn")).to_have_text(said)
        finish_current(session, audio)
        if number == 1:
            session.shot("listen-page-1")
    tab.wait_for_function(
        f"() => window.playerEvents.includes('ended:{audios[-1].pk}')", timeout=WAIT_MS
    )
    expect(tab.locator("#reader-listen-status")).to_have_text("That was the last page.")
    events = tab.evaluate("() => window.playerEvents")
    ended = [event.split(":")[1] for event in events if event.startswith("ended:")]
    assert ended == [str(audio.pk) for audio in audios]  # each page once, in order, no reload
    expect(tab.locator("#reader-listen")).to_have_attribute("aria-pressed", "false")
    session.shot("listen-end")

    # The browser's back button shows the page before, as a page of its own.
    tab.go_back()
    expect(tab.locator(".reader-header h1")).to_have_text("Chapter 3")


@needs_playlist
def test_pages_without_audio_are_made_ahead_or_passed_over_with_the_reason(
    sessions: Any,  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    owner = UserFactory.create(email="listen-gaps@example.com")
    pages = spoken_document(owner, pages=4, title="With gaps")
    Page.objects.filter(pk=pages[2].pk).update(markdown="", text="", char_count=0, title="")
    first = made_audio(pages[0], owner)
    session = sessions(owner)
    tab = session.tab
    session.open(f"/pages/{pages[0].pk}/")
    record_audio_events(tab)

    # While page 1 plays, the pages ahead are asked for (page 2 has no audio yet).
    with tab.expect_response(
        lambda response: (
            response.request.method == "POST"
            and response.url.endswith(f"/documents/{pages[0].document_id}/audios/")
        )
    ) as asked:
        tab.click("#reader-listen")
    assert asked.value.status == 202
    finish_current(session, first)

    # Page 2 plays its new audio; page 3 (no text) is passed over, saying so; page 4 plays.
    expect(tab.locator(".reader-header h1")).to_have_text("Chapter 2", timeout=WAIT_MS)
    second = Audio.objects.get(page=pages[1], voice="fake:alpha")
    finish_current(session, second)
    expect(tab.locator("#reader-listen-status")).to_have_text("Page 3 has no text", timeout=WAIT_MS)
    expect(tab.locator("#reader-now")).to_be_hidden()  # the reason takes its line
    expect(tab.locator(".reader-header h1")).to_have_text("Chapter 4")
    session.shot("listen-passed-over")
    fourth = Audio.objects.get(page=pages[3], voice="fake:alpha")
    finish_current(session, fourth)
    tab.wait_for_function(
        f"() => window.playerEvents.includes('ended:{fourth.pk}')", timeout=WAIT_MS
    )
    assert not Audio.objects.filter(page=pages[2]).exists()


@needs_playlist
def test_listen_in_the_library_opens_the_reader_playing_on(sessions: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    owner = UserFactory.create(email="listen-library@example.com")
    first, second = spoken_document(owner, pages=2, title="From the library")
    audios = [made_audio(first, owner), made_audio(second, owner)]
    session = sessions(owner)
    tab = session.tab
    session.open("/library/")
    tab.screenshot(path=str(ARTIFACTS / "player-library.png"))
    tab.get_by_role("link", name="Listen From the library").click()
    tab.wait_for_url(f"**/pages/{first.pk}/?listen=1", timeout=WAIT_MS)
    expect(tab.locator("#reader-listen")).to_have_attribute("aria-pressed", "true")
    record_audio_events(tab)
    finish_current(session, audios[0])
    expect(tab.locator(".reader-header h1")).to_have_text("Chapter 2", timeout=WAIT_MS)
    session.wait_audio(f"audio.dataset.audioId === '{audios[1].pk}' && !audio.paused")
    events = tab.evaluate("() => window.playerEvents")
    ended = [event for event in events if event.startswith("ended:")]
    assert ended[:1] == [f"ended:{audios[0].pk}"]


@needs_playlist
def test_a_view_only_listener_hears_what_is_made_and_is_told_what_is_not(
    sessions: Any,  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    owner = UserFactory.create(email="listen-lender@example.com")
    listener = UserFactory.create(email="listen-borrower@example.com")
    first, second, third = spoken_document(owner, pages=3, title="Lent")
    DocumentShare.objects.create(
        document=first.document, shared_with=listener, permission="view_only", shared_by=owner
    )
    made = [made_audio(first, owner), made_audio(third, owner)]
    session = sessions(listener)
    tab = session.tab
    session.open(f"/pages/{first.pk}/")
    record_audio_events(tab)
    tab.click("#reader-listen")
    finish_current(session, made[0])
    expect(tab.locator("#reader-listen-status")).to_have_text(
        "Page 2: you may not make audio here", timeout=WAIT_MS
    )
    expect(tab.locator(".reader-header h1")).to_have_text("Chapter 3")
    finish_current(session, made[1])
    tab.wait_for_function(
        f"() => window.playerEvents.includes('ended:{made[1].pk}')", timeout=WAIT_MS
    )
    assert not Audio.objects.filter(page=second).exists()


@needs_playlist
def test_a_page_still_being_made_plays_from_its_stream(
    sessions: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from playwright.sync_api import expect

    owner = UserFactory.create(email="listen-stream@example.com")
    first, second = spoken_document(owner, pages=2, title="Made while heard")
    heard = made_audio(first, owner)

    session = sessions(owner)
    tab = session.tab
    session.open(f"/pages/{first.pk}/")
    # The next page is surely still being made while this one plays.
    with synthesis_held(monkeypatch):
        tab.click("#reader-listen")
        finish_current(session, heard)
        expect(tab.locator(".reader-header h1")).to_have_text("Chapter 2", timeout=WAIT_MS)
        made = Audio.objects.get(page=second)
        session.wait_audio(
            f"audio.dataset.audioId === '{made.pk}' && !audio.paused && audio.currentTime > 0.3"
        )
        assert session.audio("audio.dataset.stream").endswith(f"/api/v1/audios/{made.pk}/stream/")
        made.refresh_from_db()
        assert made.status == Audio.Status.GENERATING  # heard before it was made


@needs_playlist
def test_the_open_pages_quota_counts_the_audio_listening_made(
    sessions: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from playwright.sync_api import expect

    owner = UserFactory.create(email="listen-quota@example.com")
    (first,) = spoken_document(owner, pages=1, title="Counted")
    session = sessions(owner)
    tab = session.tab
    session.open(f"/pages/{first.pk}/")
    expect(tab.locator("#reader-quota")).to_have_text("4 of 4 audios left for this page.")
    with synthesis_held(monkeypatch):
        tab.click("#reader-listen")  # the page has no audio: listening asks for it
        session.wait_audio("!audio.paused && audio.currentTime > 0.3")
    made = Audio.objects.get(page=first)
    expect(tab.locator(f".reader-audio[data-audio-id='{made.pk}']")).to_be_visible()
    expect(tab.locator("#reader-quota")).to_have_text(
        "3 of 4 audios left for this page.", timeout=WAIT_MS
    )


NOW_BADGE = "() => getComputedStyle(document.getElementById('reader-now'), '::before').content"


@needs_playlist
def test_continuous_play_says_a_page_has_outdated_audio_and_offers_no_read_along(
    sessions: Any,  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    from document_processing import services as document_services

    owner = UserFactory.create(email="listen-outdated@example.com")
    pages = spoken_document(owner, pages=3, title="Edited in the middle")
    audios = [made_audio(page, owner) for page in pages]
    document_services.update_page(
        user=owner, page=pages[1], markdown="# Chapter 2\n\n" + "Other words, read again. " * 10
    )
    session = sessions(owner)
    tab = session.tab
    timings_of: list[str] = []
    tab.on(
        "request",
        lambda request: (
            timings_of.append(request.url.split("/audios/")[1].split("/")[0])
            if "/timings/" in request.url
            else None
        ),
    )
    session.open(f"/pages/{pages[0].pk}/")
    record_audio_events(tab)
    tab.click("#reader-listen")
    # Page 1 is read along.
    expect(tab.locator("#reader-formatted .reader-sentence").first).to_be_visible()
    finish_current(session, audios[0])

    # Page 2 plays its audio, saying it was made before the edit, on the player and to screen
    # readers; the formatted page stays and its timings are not asked for.
    expect(tab.locator(".reader-header h1")).to_have_text("Chapter 2", timeout=WAIT_MS)
    session.wait_audio(f"audio.dataset.audioId === '{audios[1].pk}' && !audio.paused")
    said = f"Page 2: Chapter 2, {ALPHA}. This audio was made before the page was edited."
    expect(tab.locator("#reader-now")).to_have_text(said)
    expect(tab.locator("#reader-now")).to_be_visible()
    # The line may be cut short on the bar: its badge, at the start, stays in view.
    assert "Outdated" in tab.evaluate(NOW_BADGE)
    expect(tab.locator("#reader-turn")).to_have_text(said)
    expect(tab.locator("#reader-formatted")).to_be_visible()
    expect(tab.locator("#reader-formatted .reader-sentence")).to_have_count(0)
    session.shot("listen-outdated")
    finish_current(session, audios[1])

    # Page 3 is up to date: read along again, and no note.
    expect(tab.locator(".reader-header h1")).to_have_text("Chapter 3", timeout=WAIT_MS)
    expect(tab.locator("#reader-now")).to_have_text(f"Page 3: Chapter 3, {ALPHA}")
    assert tab.evaluate(NOW_BADGE) == "none"
    expect(tab.locator("#reader-formatted .reader-sentence").first).to_be_visible()
    assert str(audios[1].pk) not in timings_of
    assert {str(audios[0].pk), str(audios[2].pk)} <= set(timings_of)
    events = tab.evaluate("() => window.playerEvents")
    assert [event for event in events if event.startswith("play:")][:3] == [
        f"play:{audio.pk}" for audio in audios
    ]


LISTEN_LOOK = """() => {
  const button = document.getElementById('reader-listen');
  const style = getComputedStyle(button);
  return {
    pressed: button.getAttribute('aria-pressed'), text: button.textContent.trim(),
    background: style.backgroundColor, color: style.color,
  };
}"""


@needs_playlist
def test_listen_to_the_end_shows_it_is_on_until_stopped_or_at_the_end(
    sessions: Any,  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    owner = UserFactory.create(email="listen-pressed@example.com")
    pages = spoken_document(owner, pages=2, title="Two pages")
    audios = [made_audio(page, owner) for page in pages]
    session = sessions(owner)
    tab = session.tab
    session.open(f"/pages/{pages[0].pk}/")
    record_audio_events(tab)
    button = tab.get_by_role("button", name="Listen to the end")
    expect(button).to_have_attribute("aria-pressed", "false")
    off = tab.evaluate(LISTEN_LOOK)
    assert off["text"] == "Listen to the end"

    # On: pressed, in words and in colour, while it plays.
    button.click()
    listening = tab.get_by_role("button", name="Listening to the end · Stop")
    expect(listening).to_have_attribute("aria-pressed", "true")
    session.wait_audio(f"audio.dataset.audioId === '{audios[0].pk}' && !audio.paused")
    on = tab.evaluate(LISTEN_LOOK)
    assert (on["background"], on["color"]) != (off["background"], off["color"])
    session.shot("listen-on")

    # Stopped: off again, and the page being heard stops too.
    listening.click()
    expect(button).to_have_attribute("aria-pressed", "false")
    session.wait_audio("audio.paused")
    assert tab.evaluate(LISTEN_LOOK) == off

    # On again, it stays on across the page turn and goes off at the end of the last page.
    button.click()
    expect(listening).to_have_attribute("aria-pressed", "true")
    finish_current(session, audios[0])
    expect(tab.locator(".reader-header h1")).to_have_text("Chapter 2", timeout=WAIT_MS)
    expect(listening).to_have_attribute("aria-pressed", "true")
    finish_current(session, audios[1])
    tab.wait_for_function(
        f"() => window.playerEvents.includes('ended:{audios[1].pk}')", timeout=WAIT_MS
    )
    expect(tab.locator("#reader-listen-status")).to_have_text("That was the last page.")
    expect(button).to_have_attribute("aria-pressed", "false")
    assert tab.evaluate(LISTEN_LOOK) == off


def test_a_stream_answered_by_a_redirect_is_played_from_where_it_points(
    sessions: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The audio is fed to the player by the page's script; a made audio in object storage
    answers for its file with a redirect, which the page may not follow itself: the player
    does."""
    owner = UserFactory.create(email="stream-redirect@example.com")
    first, second = spoken_document(owner, pages=2, title="Stored elsewhere")
    stored = made_audio(second, owner)
    session = sessions(owner)
    tab = session.tab
    # As S3 storage answers for a made audio: a redirect to where its file is.
    where = f"{session.base}{reverse('audio-download', kwargs={'pk': stored.pk})}"
    tab.route(
        "**/api/v1/audios/*/stream/",
        lambda route: route.fulfill(status=302, headers={"Location": where}),
    )

    def made_at_once(route: Any) -> None:
        # The audio's manifest says it is made: the rest is read through its stream.
        path = route.request.url.split("://", 1)[1].split("/", 1)[1].split("?", 1)[0]
        route.fulfill(
            json={
                "status": "completed", "attempt": 1, "first": 0, "parts": [],
                "rest_url": "/" + path.replace("/parts/", "/stream/"), "poll_ms": None,
            }
        )  # fmt: skip

    tab.route("**/api/v1/audios/*/parts/?*", made_at_once)
    session.open(f"/pages/{first.pk}/")
    with synthesis_held(monkeypatch):
        tab.click("#reader-generate-button")
        session.wait_audio("!audio.paused && audio.currentTime > 0.3")
    made = Audio.objects.get(page=first)
    assert session.audio("audio.dataset.audioId") == str(made.pk)
    assert session.audio("audio.src").endswith(f"/api/v1/audios/{made.pk}/stream/")
    assert session.audio("audio.error") is None
