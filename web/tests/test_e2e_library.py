"""The library in a real browser (Debian's Chromium, headless), from sign-up to sharing.

Extraction is held back when a document is queued, and this test runs it itself, as the worker
would: so the status badge is seen to change from pending to completed without a reload.
Screenshots of each step go to e2e-artifacts/library/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import transaction

from core.tests.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    E2E_MARKS,
    axe_violations,
    sync_playwright_closing_connections,
)
from document_processing import services as document_services
from document_processing.models import Document
from document_processing.tests.extractors.pdf_samples import report_pdf
from sharing.models import DocumentShare, ShareInvitation
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
    with sync_playwright_closing_connections() as playwright:
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

    # Upload a PDF with the picker, from "Add a document": the page is not reloaded, the row
    # appears pending.
    tab.evaluate("window.sameDocument = true")
    tab.get_by_role("link", name="Add a document").click()
    tab.locator("#add-dialog").wait_for(state="visible")
    tab.set_input_files(
        "#upload-file",
        files=[{"name": "report.pdf", "mimeType": "application/pdf", "buffer": report_pdf(3)}],
    )
    tab.click("#upload-form button[type=submit]")
    row = tab.locator(".document-row").first
    row.locator(".badge", has_text="Pending").wait_for()
    assert tab.evaluate("document.getElementById('upload-progress').value") == 100
    tab.locator("#announcer", has_text="“report” was uploaded.").wait_for()
    assert not tab.locator("#add-dialog").is_visible()
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
    # An invitation, listed as pending until the second person accepts it.
    invited = dialog.locator(".invitation-list li", has_text=second.email)
    invited.wait_for()
    assert invited.locator("text=View only").is_visible()
    assert invited.locator("button", has_text="Withdraw").is_visible()
    dialog.locator("[data-live]", has_text="Done: the lists below show who").wait_for()
    invitation = ShareInvitation.objects.get()
    assert (invitation.email, invitation.permission) == (second.email, "view_only")
    assert not DocumentShare.objects.exists()
    shoot(tab, "06-shared")
    dialog.locator("text=Close").click()

    # Log out, log in as the second person (which accepts the invitation to their confirmed
    # address) and find it under "Shared with me".
    tab.click("header >> text=Account")
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

    row = tab.locator(f"#document-{doomed.pk}")
    row.locator("details.row-menu > summary").click()  # the row's menu
    row.locator("text=Delete").click()
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
    tab.locator(".message", has_text=f"{friend.email} was invited.").wait_for()
    assert dialog.locator(".invitation-list", has_text=friend.email).is_visible()
    assert ShareInvitation.objects.get().permission == "collaborator"
    shoot(tab, "10-no-javascript-share")
    # Withdrawn with a plain form post.
    dialog.locator(".invitation-list button", has_text="Withdraw").click()
    tab.locator(".message", has_text=f"The invitation to {friend.email} was withdrawn.").wait_for()
    assert not ShareInvitation.objects.exists()

    # The library: "Add a document" is the page again with its form open; a row's menu opens.
    tab.goto("/library/")
    assert not tab.locator("#upload-form").is_visible()
    tab.get_by_role("link", name="Add a document").click()
    tab.wait_for_url("**/library/?tab=all&dialog=add#add-dialog")
    tab.set_input_files(
        "#upload-file",
        files=[{"name": "later.md", "mimeType": "text/markdown", "buffer": b"# Later\n\nWords."}],
    )
    tab.click("#upload-form button[type=submit]")
    tab.locator(".message", has_text="“later” was uploaded.").wait_for()
    assert Document.objects.filter(original_filename="later.md").exists()
    menu = tab.locator(f"#document-{document.pk} details.row-menu")
    menu.locator("summary").click()
    assert menu.locator("text=Rename").is_visible()
    shoot(tab, "12-no-javascript-library")
    menu.locator("text=Delete").click()
    tab.wait_for_url(f"**/documents/{document.pk}/?dialog=delete#delete-dialog")
    assert tab.locator("#delete-dialog").is_visible()
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


# --- A phone and a desktop: the header, the list first, adding by dropping a file -----------

SIZES = {
    "desktop": {"width": 1366, "height": 800},
    "phone": {"width": 390, "height": 844},
}

# A file dragged from the desktop, as the page's listeners see it: `window.dropped(type, name,
# text, size)` dispatches one drag event carrying one file, on the element under the middle of
# the window (the overlay, once it shows), and says whether the page took it (preventDefault).
DRAG_HELPER = """
window.dropped = (type, name, text, size) => {
  const transfer = new DataTransfer();
  const body = size ? new Uint8Array(size).fill(120) : text;
  transfer.items.add(new File([body], name, { type: "text/markdown" }));
  const target =
    document.elementFromPoint(window.innerWidth / 2, window.innerHeight / 2) || document.body;
  const event = new DragEvent(type, {
    bubbles: true, cancelable: true, dataTransfer: transfer,
    clientX: window.innerWidth / 2, clientY: window.innerHeight / 2,
  });
  target.dispatchEvent(event);
  return event.defaultPrevented;
};
"""


def library_tab(browser: Any, live_server: Any, user: User, size: str) -> Any:
    context = browser.new_context(base_url=live_server.url, viewport=SIZES[size])
    context.set_default_timeout(WAIT_MS)
    context.add_init_script(DRAG_HELPER)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.errors = errors
    log_in(tab, user.email, DEFAULT_PASSWORD)
    return tab


def completed(owner: User, title: str) -> Document:
    document = Document.objects.create(
        owner=owner, title=title, source_type="text", status=Document.Status.COMPLETED,
        page_count=1,
    )  # fmt: skip
    document.pages.create(number=1, title=title, markdown="Words.", text="Words.")
    return document


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_header_is_one_line_and_the_rest_is_in_the_account_menu(
    live_server: Any, allow_sync_db_under_playwright: None, browser: Any, size: str
) -> None:
    person: User = UserFactory.create(email="a.rather.long.address@example.com", is_staff=True)
    tab = library_tab(browser, live_server, person, size)
    items = ".site-header .brand, .site-nav > ul > li, .account-menu > summary"
    boxes = tab.locator(items).evaluate_all(
        """(nodes) => nodes.filter((node) => node.checkVisibility()).map((node) => {
             const box = node.getBoundingClientRect();
             return {top: box.top, bottom: box.bottom, right: box.right};
           })"""
    )
    header = tab.locator(".site-header").bounding_box()
    # The brand, Library, Settings (in the menu on a phone) and the menu.
    assert len(boxes) == (4 if size == "desktop" else 3)
    # On one line: every item beside every other, and the header as tall as its tallest item.
    assert max(box["top"] for box in boxes) < min(box["bottom"] for box in boxes)
    tallest = max(box["bottom"] - box["top"] for box in boxes)
    assert header["height"] < tallest + 30
    assert max(box["right"] for box in boxes) <= SIZES[size]["width"]
    shoot(tab, f"20-header-{size}")

    tab.click("header >> text=Account")
    menu = tab.locator(".account-menu .menu-list")
    menu.wait_for(state="visible")
    assert menu.locator("text=Signed in as a.rather.long.address@example.com").is_visible()
    assert menu.locator("text=Dashboard").is_visible()
    assert menu.get_by_role("link", name="Settings").is_visible() == (size == "phone")
    assert menu.locator("text=Log out").is_visible()
    shown = menu.bounding_box()
    assert shown["x"] >= 0
    assert shown["x"] + shown["width"] <= SIZES[size]["width"]
    shoot(tab, f"21-account-menu-{size}")
    # Escape closes it, and focus goes back to its button.
    tab.locator(".account-menu .menu-list a").first.focus()
    tab.keyboard.press("Escape")
    menu.wait_for(state="hidden")
    assert tab.evaluate("document.activeElement.matches('.account-menu > summary')")
    assert tab.errors == []


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_documents_come_first_and_each_row_has_listen_and_a_menu(
    live_server: Any, allow_sync_db_under_playwright: None, browser: Any, size: str
) -> None:
    owner: User = UserFactory.create(email="reader@example.com")
    for number in range(4):
        completed(owner, f"Chapter notes {number}")
    first = completed(owner, "The latest notes")
    tab = library_tab(browser, live_server, owner, size)
    height = SIZES[size]["height"]

    # The list is on the first screen; the form is behind one button.
    row = tab.locator(f"#document-{first.pk}")
    assert row.bounding_box()["y"] + 40 < height
    assert not tab.locator("#upload-form").is_visible()
    assert tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert row.get_by_role("link", name="Listen The latest notes").is_visible()
    assert axe_violations(tab) == []
    shoot(tab, f"22-library-{size}")

    # Add a document: a dialog with the picker first, closed by Escape back onto the button.
    add = tab.get_by_role("link", name="Add a document")
    add.click()
    dialog = tab.locator("#add-dialog")
    dialog.wait_for(state="visible")
    assert tab.evaluate("document.activeElement.id") == "upload-file"
    for part in ("#upload-form", "text=Import a web page", "text=Paste text"):
        assert dialog.locator(part).is_visible()
    assert axe_violations(tab) == []
    shoot(tab, f"23-add-dialog-{size}")
    tab.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert tab.evaluate("document.activeElement.classList.contains('add-button')")

    # The row's menu: rename, share, delete; each item names its document to screen readers.
    menu = row.locator("details.row-menu")
    menu.locator("summary").click()
    items = menu.locator(".menu-list a")
    assert [text.split()[0] for text in items.all_inner_texts()] == [
        "Rename", "Share", "Delete",
    ]  # fmt: skip
    assert axe_violations(tab) == []
    box = menu.locator(".menu-list").bounding_box()
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= SIZES[size]["width"]
    shoot(tab, f"24-row-menu-{size}")

    # Rename in a dialog, without leaving the library.
    menu.locator("text=Rename").click()
    rename = tab.locator("#rename-dialog")
    rename.wait_for(state="visible")
    assert not menu.evaluate("menu => menu.open")
    tab.fill("#rename-input", "Newest notes")
    rename.locator("button", has_text="Save title").click()
    rename.wait_for(state="hidden")
    tab.locator(f"#document-{first.pk} .document-title", has_text="Newest notes").wait_for()
    tab.locator("#announcer", has_text="The document was renamed.").wait_for()
    first.refresh_from_db()
    assert first.title == "Newest notes"

    # Delete still asks for the title; cancelling gives focus back to the row's menu button.
    menu = tab.locator(f"#document-{first.pk} details.row-menu")
    menu.locator("summary").click()
    menu.locator("text=Delete").click()
    delete = tab.locator("#delete-dialog")
    delete.wait_for(state="visible")
    assert delete.locator("button.danger").is_disabled()
    delete.locator("button", has_text="Cancel").click()
    delete.wait_for(state="hidden")
    assert tab.evaluate("document.activeElement.matches('.row-menu > summary')")

    # Share: the document's page with its share dialog open.
    menu.locator("summary").click()
    menu.locator("text=Share").click()
    tab.wait_for_url(f"**/documents/{first.pk}/**")
    tab.locator("#share-dialog").wait_for(state="visible")
    assert tab.errors == []


def test_a_file_dropped_anywhere_on_the_library_is_uploaded(
    live_server: Any,
    allow_sync_db_under_playwright: None,
    held_extractions: list[int],
    browser: Any,
) -> None:
    owner: User = UserFactory.create(email="dropper@example.com")
    completed(owner, "Already here")
    tab = library_tab(browser, live_server, owner, "phone")
    tab.evaluate("window.sameDocument = true")
    overlay = tab.locator("#drop-overlay")
    assert overlay.is_hidden()

    # Dragging a file over the page shows the overlay; leaving or Escape hides it.
    assert tab.evaluate("dropped('dragenter', 'notes.md', '# Notes', 0)") is True
    overlay.wait_for(state="visible")
    assert overlay.inner_text() == "Drop to add to your library"
    # The page takes the file: the browser does not open it in place of the library.
    assert tab.evaluate("dropped('dragover', 'notes.md', '# Notes', 0)") is True
    shoot(tab, "25-drop-overlay-phone")
    tab.evaluate("dropped('dragleave', 'notes.md', '# Notes', 0)")
    overlay.wait_for(state="hidden")
    tab.evaluate("dropped('dragenter', 'notes.md', '# Notes', 0)")
    overlay.wait_for(state="visible")
    tab.keyboard.press("Escape")
    overlay.wait_for(state="hidden")

    # Dropped: uploaded at once, and the row appears.
    tab.evaluate("dropped('dragenter', 'dropped.md', '# Dropped notes', 0)")
    overlay.wait_for(state="visible")
    with tab.expect_response("**/api/v1/documents/") as answer:
        assert tab.evaluate("dropped('drop', 'dropped.md', '# Dropped notes', 0)") is True
    assert answer.value.status == 202
    assert overlay.is_hidden()
    tab.locator("#announcer", has_text="“dropped” was uploaded.").wait_for()
    tab.locator(".document-row", has_text="dropped").wait_for()
    assert not tab.locator("#add-dialog").is_visible()
    assert tab.evaluate("window.sameDocument") is True
    assert Document.objects.filter(owner=owner, original_filename="dropped.md").exists()
    shoot(tab, "26-dropped-uploaded-phone")
    assert tab.errors == []


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_file_over_the_limit_is_refused_in_the_browser_without_sending_it(
    live_server: Any,
    allow_sync_db_under_playwright: None,
    browser: Any,
    settings: Any,
    size: str,
) -> None:
    settings.UPLOAD_MAX_BYTES = 1024 * 1024
    owner: User = UserFactory.create(email="big-files@example.com")
    tab = library_tab(browser, live_server, owner, size)
    sent: list[str] = []
    tab.on(
        "request",
        lambda request: sent.append(request.url) if request.method == "POST" else None,
    )
    too_big = "“huge.md” is 1.5 MB, larger than the limit of 1 MB."

    # Chosen with the picker: said at once, and again on Upload; nothing is sent.
    tab.get_by_role("link", name="Add a document").click()
    tab.set_input_files(
        "#upload-file",
        files=[{"name": "huge.md", "mimeType": "text/markdown", "buffer": b"x" * (3 << 19)}],
    )
    error = tab.locator("#upload-form [data-form-error]")
    error.filter(has_text=too_big).wait_for()
    tab.click("#upload-form button[type=submit]")
    error.filter(has_text=too_big).wait_for()
    shoot(tab, f"27-too-large-{size}")
    tab.keyboard.press("Escape")
    tab.locator("#add-dialog").wait_for(state="hidden")

    # Dropped: the form opens to say so; nothing is sent. An empty file neither.
    tab.evaluate("dropped('dragenter', 'huge.md', '', 3 << 19)")
    tab.evaluate("dropped('drop', 'huge.md', '', 3 << 19)")
    tab.locator("#add-dialog").wait_for(state="visible")
    error.filter(has_text=too_big).wait_for()
    tab.keyboard.press("Escape")
    tab.evaluate("dropped('drop', 'blank.md', '', 0)")
    error.filter(has_text="“blank.md” is empty.").wait_for()
    assert sent == []
    assert not Document.objects.exists()
    assert tab.errors == []


# An image, named as a PDF: the server reads its head and refuses it.
PNG_IMAGE = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_refused_upload_replaces_uploading_with_the_reason(
    live_server: Any, allow_sync_db_under_playwright: None, browser: Any, size: str
) -> None:
    owner: User = UserFactory.create(email="refused@example.com")
    tab = library_tab(browser, live_server, owner, size)
    tab.get_by_role("link", name="Add a document").click()
    tab.set_input_files(
        "#upload-file",
        files=[{"name": "x.pdf", "mimeType": "application/pdf", "buffer": PNG_IMAGE}],
    )
    with tab.expect_response("**/api/v1/documents/") as answer:
        tab.click("#upload-form button[type=submit]")
    assert answer.value.status >= 400
    error = tab.locator("#upload-form [data-form-error]")
    error.filter(has_text=re.compile(r"\S")).wait_for()
    reason = error.inner_text().strip()
    # What screen readers were told ("Uploading “x.pdf”…") gives way to why it was refused.
    announcer = tab.locator("#announcer")
    announcer.filter(has_text=reason).wait_for()
    assert "Uploading" not in announcer.inner_text()
    assert tab.locator("#upload-progress").is_hidden()
    shoot(tab, f"28-upload-refused-{size}")
    assert not Document.objects.exists()
    assert tab.errors == []


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_document_page_says_the_whole_status_and_a_new_title_everywhere(
    live_server: Any, allow_sync_db_under_playwright: None, browser: Any, size: str
) -> None:
    owner: User = UserFactory.create(email="status@example.com")
    document = Document.objects.create(
        owner=owner, title="A long report", source_type="text",
        status=Document.Status.PROCESSING,
    )  # fmt: skip
    tab = library_tab(browser, live_server, owner, size)
    tab.goto(f"/documents/{document.pk}/")
    tab.locator("#document-status .badge", has_text="Processing").wait_for()

    # The worker finishes: the status, its badge and the pages change without a reload, and
    # screen readers hear the whole status, not the title alone.
    for number in range(1, 13):
        document.pages.create(
            number=number, title=f"Part {number}", markdown="Words.", text="Words."
        )
    Document.objects.filter(pk=document.pk).update(status=Document.Status.COMPLETED, page_count=12)
    tab.locator("#document-status .badge", has_text="Completed").wait_for()
    tab.locator("#announcer", has_text="A long report: Completed, 12 pages").wait_for()
    assert tab.locator(".page-row").count() == 12
    assert tab.locator("text=The pages appear here once").count() == 0
    shoot(tab, f"29-document-completed-{size}")

    # Renamed on its page: its heading, the window's title and the dialogs say the new title.
    tab.fill("#rename-input", "A shorter report")
    tab.click("text=Save title")
    tab.locator("h1", has_text="A shorter report").wait_for()
    tab.wait_for_function("() => document.title.startsWith('A shorter report')")
    assert "A long report" not in tab.locator("main").inner_text()
    assert tab.locator("#share-dialog-title").inner_text() == "Share “A shorter report”"
    assert tab.locator("#delete-confirm").get_attribute("data-expected") == "A shorter report"
    tab.locator("#announcer", has_text="The document was renamed.").wait_for()
    assert tab.errors == []
