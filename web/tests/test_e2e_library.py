"""The library in a real browser (Debian's Chromium, headless), from sign-up to sharing.

Extraction is held back when a document is queued, and this test runs it itself, as the worker
would: so the status badge is seen to change from pending to completed without a reload.
Screenshots of each step go to e2e-artifacts/library/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import transaction

from core.tests.browser import CHROMIUM, CHROMIUM_ARGS, E2E_MARKS
from document_processing import services as document_services
from document_processing.models import Document
from document_processing.tests.extractors.pdf_samples import report_pdf
from sharing.models import DocumentShare
from users.models import User
from users.tests.factories import DEFAULT_PASSWORD, UserFactory

ARTIFACTS = Path(__file__).resolve().parents[2] / "e2e-artifacts" / "library"

pytestmark = E2E_MARKS

# How long the page may take to show what the test waits for (not a speed assertion).
WAIT_MS = 20_000


@pytest.fixture
def allow_sync_db_under_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    # Playwright's sync API runs an event loop in this thread; the ORM calls here are sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def held_extractions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Documents queued for extraction; the test runs each one when it chooses."""
    queued: list[int] = []

    def hold(task_path: str, *args: Any) -> None:
        assert task_path.endswith("extract_document_task")
        transaction.on_commit(lambda: queued.append(int(args[0])))

    monkeypatch.setattr(document_services, "enqueue_on_commit", hold)
    return queued


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def shoot(tab: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(tab: Any, email: str, password: str) -> None:
    tab.goto("/accounts/login/")
    tab.fill('input[name="login"]', email)
    tab.fill('input[name="password"]', password)
    tab.click('form.account-form button[type="submit"]')
    tab.wait_for_url("**/library/")


def test_sign_up_upload_watch_rename_share_and_find_it_as_the_other_person(
    live_server: Any,
    allow_sync_db_under_playwright: None,
    held_extractions: list[int],
    browser: Any,
) -> None:
    server = urlsplit(live_server.url).netloc
    hosts: set[str] = set()
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1100, "height": 900})
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    tab.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))

    # Landing: a keyboard user meets the skip link first.
    tab.goto("/")
    tab.keyboard.press("Tab")
    assert tab.evaluate("document.activeElement.className") == "skip-link"
    shoot(tab, "01-landing")

    # Sign up (it ends on "check your email", whether or not the address has an account), log
    # in; a new account lands in its (empty) library.
    tab.click("main >> text=Sign up free")
    tab.fill('input[name="email"]', "listener@example.com")
    tab.fill('input[name="password1"]', "a long listening passphrase")
    tab.fill('input[name="password2"]', "a long listening passphrase")
    tab.click('form.account-form button[type="submit"]')
    tab.wait_for_url("**/accounts/confirm-email/")
    log_in(tab, "listener@example.com", "a long listening passphrase")
    assert tab.locator("text=No documents yet").is_visible()
    shoot(tab, "02-library-empty")

    # Upload a PDF with the picker: the page is not reloaded, the row appears pending.
    tab.evaluate("window.sameDocument = true")
    tab.set_input_files(
        "#upload-file",
        files=[{"name": "report.pdf", "mimeType": "application/pdf", "buffer": report_pdf(3)}],
    )
    tab.click("#upload-form button[type=submit]")
    row = tab.locator(".document-row").first
    row.locator(".badge", has_text="Pending").wait_for()
    assert tab.evaluate("document.getElementById('upload-progress').value") == 100
    tab.locator("#announcer", has_text="“report” was uploaded.").wait_for()
    shoot(tab, "03-uploaded-pending")

    # The worker reads it; the badge turns completed by itself, and says so to screen readers.
    assert len(held_extractions) == 1
    document_services.extract_document(document_id=held_extractions[0])
    row.locator(".badge", has_text="Completed").wait_for()
    assert row.locator("text=3 pages").is_visible()
    tab.locator("#announcer", has_text="Completed").wait_for()
    assert tab.evaluate("window.sameDocument") is True
    shoot(tab, "04-completed")

    # Rename it on its page.
    row.locator(".document-title a").click()
    tab.wait_for_url("**/documents/*/")
    # Its first page is its cover, loaded from the app itself.
    cover = tab.locator("#document-cover img")
    assert cover.get_attribute("alt") == "Cover of Example Report"  # its title, from the PDF
    tab.wait_for_function(
        "() => { const img = document.querySelector('#document-cover img');"
        " return img && img.complete && img.naturalWidth > 0; }"
    )
    tab.fill("#rename-input", "Quarterly report")
    tab.click("text=Save title")
    tab.locator("h1", has_text="Quarterly report").wait_for()
    document = Document.objects.get()
    assert document.title == "Quarterly report"
    assert tab.locator(".page-row").count() == 3
    shoot(tab, "05-renamed")

    # Share it with a second person, in the dialog.
    second = UserFactory.create(email="second@example.com")
    tab.click("#document-actions >> text=Share")
    dialog = tab.locator("#share-dialog")
    dialog.wait_for(state="visible")
    dialog.locator("#share-email").fill(second.email)
    dialog.locator("#share-permission").select_option("view_only")
    dialog.locator("button[type=submit]", has_text="Share").click()
    dialog.locator(".share-list", has_text=second.email).wait_for()
    dialog.locator("[data-live]", has_text="The document was shared.").wait_for()
    share = DocumentShare.objects.get()
    assert (share.shared_with, share.permission) == (second, "view_only")
    shoot(tab, "06-shared")
    dialog.locator("text=Close").click()

    # Log out, log in as the second person and find it under "Shared with me".
    tab.click("header >> text=Log out")
    tab.wait_for_url("**/")
    log_in(tab, second.email, DEFAULT_PASSWORD)
    tab.click("nav.tabs >> text=Shared with me")
    tab.wait_for_url("**/library/?tab=shared")
    shared_row = tab.locator(".document-row", has_text="Quarterly report")
    shared_row.wait_for()
    assert shared_row.locator("text=Owner: listener@example.com").is_visible()
    # A view-only person is offered neither delete nor sharing.
    assert shared_row.locator("text=Delete").count() == 0
    shared_row.locator(".document-title a").click()
    tab.wait_for_url("**/documents/*/")
    assert tab.locator("#document-actions >> text=Share").count() == 0
    shoot(tab, "07-shared-with-me")

    # Narrow screens: nothing is wider than the phone.
    tab.set_viewport_size({"width": 375, "height": 800})
    for path in ("/library/", f"/documents/{document.pk}/"):
        tab.goto(path)
        assert tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
    shoot(tab, "08-phone")

    context.close()
    assert errors == []
    assert hosts == {server}


def test_deleting_from_the_library_asks_for_the_title(
    live_server: Any, allow_sync_db_under_playwright: None, browser: Any
) -> None:
    owner: User = UserFactory.create(email="owner@example.com")
    Document.objects.create(
        owner=owner, title="Keep me", source_type="text", status=Document.Status.COMPLETED
    )
    doomed = Document.objects.create(
        owner=owner, title="Old notes", source_type="text", status=Document.Status.COMPLETED
    )
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    log_in(tab, owner.email, DEFAULT_PASSWORD)

    tab.locator(f"#document-{doomed.pk} >> text=Delete").click()
    dialog = tab.locator("#delete-dialog")
    dialog.wait_for(state="visible")
    confirm = dialog.locator("button.danger")
    assert confirm.is_disabled()
    dialog.locator("#delete-confirm").fill("Old")
    assert confirm.is_disabled()
    dialog.locator("#delete-confirm").fill("Old notes")
    assert confirm.is_enabled()
    shoot(tab, "09-delete-confirm")
    confirm.click()
    tab.locator(f"#document-{doomed.pk}").wait_for(state="detached")
    assert not dialog.is_visible()
    assert list(Document.objects.values_list("title", flat=True)) == ["Keep me"]
    tab.locator("#announcer", has_text="The document was deleted.").wait_for()
    context.close()


def test_without_javascript_the_forms_still_work(
    live_server: Any, allow_sync_db_under_playwright: None, browser: Any
) -> None:
    owner: User = UserFactory.create(email="owner@example.com")
    friend: User = UserFactory.create(email="friend@example.com")
    document = Document.objects.create(
        owner=owner, title="Plain", source_type="text", status=Document.Status.COMPLETED
    )
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    log_in(tab, owner.email, DEFAULT_PASSWORD)
    tab.goto(f"/documents/{document.pk}/")
    tab.fill("#rename-input", "Plain and simple")
    tab.click("text=Save title")
    tab.locator(".message", has_text="The document was renamed.").wait_for()
    assert tab.locator("h1").inner_text() == "Plain and simple"

    # The share link opens the dialog as part of the page.
    tab.click("#document-actions >> text=Share")
    dialog = tab.locator("#share-dialog")
    dialog.wait_for(state="visible")
    dialog.locator("#share-email").fill(friend.email)
    dialog.locator("#share-permission").select_option("collaborator")
    dialog.locator("button[type=submit]", has_text="Share").click()
    tab.locator(".message", has_text=f"Shared with {friend.email}.").wait_for()
    assert dialog.locator(".share-list", has_text=friend.email).is_visible()
    assert DocumentShare.objects.get().permission == "collaborator"
    shoot(tab, "10-no-javascript-share")
    context.close()


def test_settings_preview_and_save_a_voice(
    live_server: Any, allow_sync_db_under_playwright: None, browser: Any
) -> None:
    person: User = UserFactory.create(email="voices@example.com")
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    log_in(tab, person.email, DEFAULT_PASSWORD)
    tab.click("header >> text=Settings")
    tab.select_option("#id_preferred_voice", "fake:beta")
    with tab.expect_response("**/voices/fake%3Abeta/sample/") as sample:
        tab.click("text=Preview voice")
    assert sample.value.status in (200, 206)
    tab.click("text=Save")
    tab.locator("[data-live]", has_text="Your preferred voice was saved.").wait_for()
    person.refresh_from_db()
    assert person.preferred_voice == "fake:beta"
    shoot(tab, "11-settings")
    context.close()
