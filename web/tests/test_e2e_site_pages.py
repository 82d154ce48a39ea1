"""Pages every part of the site shares, in a real browser (Debian's Chromium, headless), at a
desktop and a phone size: the error pages, the API documentation, the staff dashboard's charts
and the account pages. Each is checked with axe-core (serious and critical violations fail) and
for Content-Security-Policy violations. Screenshots go to e2e-artifacts/site/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from core.tests.browser import E2E_MARKS, axe_violations
from document_processing.tests.factories import document_with_pages
from speech_processing.models import Audio
from users.models import User
from users.tests.factories import DEFAULT_PASSWORD, UserFactory

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ViewportSize
    from playwright.sync_api import Page as Tab

ARTIFACTS = Path(settings.BASE_DIR) / "e2e-artifacts" / "site"
# How long the page may take to show what the test waits for (not a speed assertion).
WAIT_MS = 20_000
SIZES: dict[str, ViewportSize] = {
    "desktop": {"width": 1366, "height": 800},
    "phone": {"width": 390, "height": 844},
}

pytestmark = [*E2E_MARKS, pytest.mark.urls("core.tests.urls_for_errors")]

# Installed before any script of the page runs (through the browser's debugging protocol, which
# the Content-Security-Policy does not govern): every violation the page causes is kept.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(event.violatedDirective + " " + (event.blockedURI || "inline"));
});
"""

Opener = Callable[..., "Tab"]


@pytest.fixture
def open_page(live_server: Any, browser: Browser) -> Iterator[Opener]:
    contexts = []
    errors: list[str] = []

    def open_page(user: User | None, path: str, size: str = "desktop") -> Tab:
        context = browser.new_context(base_url=live_server.url, viewport=SIZES[size])
        context.set_default_timeout(WAIT_MS)
        if user is not None:
            client = Client()
            client.force_login(user)
            context.add_cookies(
                [{"name": "sessionid", "value": client.cookies["sessionid"].value,
                  "url": live_server.url}]
            )  # fmt: skip
        context.add_init_script(RECORD_VIOLATIONS)
        contexts.append(context)
        tab = context.new_page()
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.on(
            "console",
            lambda message: (
                errors.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        tab.goto(path)
        return tab

    open_page.errors = errors  # type: ignore[attr-defined]
    yield open_page
    for context in contexts:
        context.close()
    assert errors == []


def shoot(tab: Tab, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def violations(tab: Tab) -> list[str]:
    return list(tab.evaluate("window.cspViolations"))


# --- Error pages ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_error_pages_are_in_the_layout_with_the_way_back(
    open_page: Opener, size: str, transactional_db: None
) -> None:
    alice = UserFactory.create(email="alice@example.com")
    theirs = document_with_pages(owner=UserFactory.create(), pages=1)
    pages = [
        ("404", "/no-such-page/", "Page not found"),
        ("404-document", f"/documents/{theirs.pk}/", "Page not found"),
        ("403", "/test/page-forbidden/", "You may not see this page"),
        ("400", "/test/page-bad-request/", "This request could not be understood"),
        ("500", "/test/page-boom/", "Something went wrong"),
    ]
    for name, path, heading in pages:
        tab = open_page(alice, path, size)
        assert tab.locator("h1").inner_text() == heading, path
        back = tab.get_by_role("link", name="Back to your library")
        assert back.is_visible()
        assert tab.locator(".site-header").is_visible()
        assert axe_violations(tab) == [], path
        assert violations(tab) == [], path
        shoot(tab, f"error-{name}-{size}")
        back.click()
        tab.wait_for_url("**/library/")


@pytest.mark.parametrize("size", SIZES)
def test_a_refused_form_is_a_page_in_the_layout(
    open_page: Opener, size: str, transactional_db: None
) -> None:
    UserFactory.create(email="alice@example.com")
    tab = open_page(None, "/accounts/login/", size)
    # The form's token no longer matches (a session ended in another tab, say).
    tab.context.clear_cookies()
    tab.fill('input[name="login"]', "alice@example.com")
    tab.fill('input[name="password"]', DEFAULT_PASSWORD)
    tab.click('form.account-form button[type="submit"]')
    tab.locator("h1", has_text="The form could not be sent").wait_for()
    assert tab.get_by_role("link", name="Go to the home page").is_visible()
    assert axe_violations(tab) == []
    assert violations(tab) == []
    shoot(tab, f"error-csrf-{size}")


# --- The API documentation --------------------------------------------------------------------


def test_the_api_documentation_keeps_to_the_content_security_policy(
    open_page: Opener, transactional_db: None
) -> None:
    alice = UserFactory.create(email="alice@example.com")
    tab = open_page(alice, "/api/v1/docs/")
    tab.locator(".swagger-ui .info .title", has_text="Pagecast API").wait_for()
    tab.locator(".opblock-tag", has_text="documents").first.wait_for()
    # Open one operation: its rendering uses more of the UI.
    tab.locator(".opblock-summary").first.click()
    tab.locator(".opblock-body").first.wait_for()
    assert violations(tab) == []
    shoot(tab, "api-docs")
    # The probe sees what the policy refuses: an inline style, as drf-spectacular's own page has.
    tab.evaluate(
        "document.head.append(Object.assign(document.createElement('style'), "
        "{textContent: 'body {}'}))"
    )
    tab.wait_for_function("window.cspViolations.length > 0")
    assert [entry.split()[0] for entry in violations(tab)] == ["style-src-elem"]
    open_page.errors.clear()  # type: ignore[attr-defined]  # (the console said so too)


# --- The staff dashboard's charts -------------------------------------------------------------

# Every text of every chart: its size as drawn (the font size times the chart's scale), and
# whether its box lies within its chart's (half a pixel spared for rounding).
MEASURE_CHART_TEXT = """() => [...document.querySelectorAll("svg.chart text")].map((text) => {
  const chart = text.ownerSVGElement.getBoundingClientRect();
  const box = text.getBoundingClientRect();
  const size = parseFloat(getComputedStyle(text).fontSize) * text.getScreenCTM().a;
  const inside = box.left >= chart.left - 0.5 && box.right <= chart.right + 0.5
    && box.top >= chart.top - 0.5 && box.bottom <= chart.bottom + 0.5;
  return {text: text.textContent, chart: text.ownerSVGElement.id, size, inside};
})"""


@pytest.mark.parametrize("size", SIZES)
def test_chart_labels_are_readable_and_never_cut_off(
    open_page: Opener, size: str, transactional_db: None
) -> None:
    staff = UserFactory.create(email="staff@example.com", is_staff=True)
    document = document_with_pages(owner=staff, pages=1)
    page = document.pages.get()
    now = timezone.now()
    voices = ["fake:alpha", "piper:en_US-hfc_female-medium", "openai:" + "very-long-name-" * 4]
    for offset, voice in enumerate(voices):
        Audio.objects.create(
            page=page, voice=voice, engine=voice.split(":")[0], status=Audio.Status.COMPLETED,
            duration_seconds=90.0, char_count=1_234_567 * (offset + 1), size_bytes=2048,
            file_key=f"audio/{offset}.mp3", completed_at=now - timedelta(days=offset * 10),
        )  # fmt: skip
    tab = open_page(staff, "/dashboard/?days=30", size)
    texts = tab.evaluate(MEASURE_CHART_TEXT)
    charts = {text["chart"] for text in texts}
    assert "chart-voices" in charts
    assert len(charts) == 7
    small = [(t["chart"], t["text"], round(t["size"], 1)) for t in texts if t["size"] < 11]
    assert small == []
    cut = [(t["chart"], t["text"]) for t in texts if not t["inside"]]
    assert cut == []
    assert axe_violations(tab) == []
    assert violations(tab) == []
    shoot(tab, f"dashboard-{size}")


# --- The account pages (django-allauth's, in the site's words) ------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_account_pages_read_like_the_site_and_a_password_change_is_confirmed(
    open_page: Opener, size: str, transactional_db: None
) -> None:
    alice = UserFactory.create(email="alice@example.com")
    for path, heading in [("/accounts/login/", "Log in"), ("/accounts/signup/", "Sign up")]:
        tab = open_page(None, path, size)
        assert tab.locator("h1").inner_text() == heading
        assert axe_violations(tab) == [], path
        assert violations(tab) == [], path
        shoot(tab, f"account-{heading.lower().replace(' ', '-')}-{size}")
    assert tab.get_by_label("Password (again)").is_visible()

    tab = open_page(None, "/accounts/login/", size)
    assert tab.get_by_label("Remember me").is_visible()
    tab.get_by_label("Email").fill(alice.email)
    tab.get_by_label("Password").fill(DEFAULT_PASSWORD)
    tab.get_by_role("button", name="Log in").click()
    tab.wait_for_url("**/library/")
    assert tab.locator(".message-success").inner_text() == f"You are logged in as {alice.email}."

    tab.goto("/settings/")
    tab.get_by_role("link", name="Change your password").click()
    assert tab.locator("h1").inner_text() == "Change your password"
    assert axe_violations(tab) == []
    tab.get_by_label("Current password").fill(DEFAULT_PASSWORD)
    tab.get_by_label("New password", exact=True).fill("a new long passphrase")
    tab.get_by_label("New password (again)").fill("a new long passphrase")
    tab.get_by_role("button", name="Change password").click()
    tab.wait_for_url("**/settings/")
    assert tab.locator(".message-success").inner_text() == "Your password was changed."
    assert axe_violations(tab) == []
    assert violations(tab) == []
    shoot(tab, f"account-password-changed-{size}")


# --- Activity: what the reader's player and its download link leave in the log ---------------


def test_the_readers_player_leaves_no_download_and_its_link_leaves_one(
    open_page: Opener, transactional_db: None
) -> None:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from sharing.models import AccessLog

    alice = UserFactory.create(email="alice@example.com")
    page = document_with_pages(owner=alice, pages=1).pages.get()
    key = default_storage.save("audio/reader.mp3", ContentFile(b"\xff\xfb\x90\x00" * 4096))
    audio = Audio.objects.create(
        page=page, voice="fake:alpha", engine="fake", status=Audio.Status.COMPLETED,
        file_key=key, size_bytes=4 * 4096, duration_seconds=4.0, created_by=alice,
        completed_at=timezone.now(),
    )  # fmt: skip
    tab = open_page(alice, f"/pages/{page.pk}/")
    # The player asks for the file as the page opens (preload="metadata").
    with tab.expect_response(lambda response: f"/audios/{audio.pk}/download/" in response.url):
        tab.reload()
    assert not AccessLog.objects.filter(audio_id=audio.pk).exists()

    link = tab.locator(f'.reader-audio[data-audio-id="{audio.pk}"] .reader-audio-download')
    with tab.expect_download():
        link.click()
    actions = list(AccessLog.objects.filter(audio_id=audio.pk).values_list("action", flat=True))
    assert actions == ["download"]
