"""The web pages: who sees what, what they may do there, and what the pages are made of."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from rest_framework.throttling import SimpleRateThrottle

from document_processing import services as document_services
from document_processing.models import Document
from document_processing.tests.factories import DocumentFactory, PageFactory, document_with_pages
from sharing.invitations import accept_invitations
from sharing.models import AccessLog, DocumentShare, ShareInvitation
from speech_processing.models import Audio, ListeningProgress
from speech_processing.tests.factories import AudioFactory
from users.models import User
from users.tests.factories import UserFactory
from web.views.pages import DocumentLinks

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
Capture = Callable[..., AbstractContextManager[object]]


@pytest.fixture
def run_tasks(django_capture_on_commit_callbacks: Capture) -> Capture:
    """Tasks are queued when the transaction commits; inside a test that never happens alone."""
    return django_capture_on_commit_callbacks


def client_of(user: User | None = None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def html_of(user: User | None, url: str) -> str:
    response = client_of(user).get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def share(document: Document, person: User, permission: str) -> DocumentShare:
    return DocumentShare.objects.create(
        document=document, shared_with=person, permission=permission, shared_by=document.owner
    )


def messages_of(response: object) -> list[str]:
    return [str(message) for message in response.context["messages"]]  # type: ignore[attr-defined]


# --- Landing and voice previews -------------------------------------------------------------


def test_the_landing_page_explains_pagecast_and_offers_voices_to_hear() -> None:
    html = html_of(None, "/")
    assert "Listen to your documents" in html
    assert 'href="/accounts/signup/"' in html
    assert 'href="/accounts/login/"' in html
    # The default voice comes first; previews load only when played.
    samples = re.findall(r'<audio controls preload="none" src="([^"]+)"', html)
    assert samples[0] == "/voices/fake:alpha/sample/"
    assert "/voices/fake:beta/sample/" in samples
    # Each voice by its display name, the one name it has everywhere.
    names = re.findall(r'<p class="voice-name" id="voice-\d+">([^<]+)</p>', html)
    assert names[0] == "Alpha (English (US), Test tones)"
    assert "Test tone voice alpha" not in html


def test_people_who_are_logged_in_go_from_the_landing_page_to_their_library(alice: User) -> None:
    response = client_of(alice).get("/")
    assert response.status_code == 302
    assert response["Location"] == "/library/"


def test_anyone_can_hear_a_voice_preview_but_not_an_unknown_voice() -> None:
    response = Client().get("/voices/fake:alpha/sample/")
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/mpeg"
    body = b"".join(response.streaming_content) if response.streaming else response.content  # type: ignore[attr-defined]
    assert body.startswith((b"ID3", b"\xff"))
    assert Client().get("/voices/fake:nobody/sample/").status_code == 404
    assert Client().get("/voices/not-a-voice/sample/").status_code == 404


# --- Who may open which page ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/library/", "/settings/", "/documents/{pk}/"])
def test_anonymous_people_are_sent_to_log_in(alice: User, path: str) -> None:
    document = document_with_pages(owner=alice, pages=1)
    response = Client().get(path.format(pk=document.pk))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize(
    "path",
    [
        "/library/upload/",
        "/library/import/",
        "/library/paste/",
        "/documents/{pk}/rename/",
        "/documents/{pk}/delete/",
        "/documents/{pk}/retry/",
        "/documents/{pk}/shares/",
    ],
)
def test_anonymous_posts_change_nothing(alice: User, path: str) -> None:
    document = document_with_pages(owner=alice, pages=1, title="Kept")
    response = Client().post(path.format(pk=document.pk), {"title": "Changed", "text": "x"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert list(Document.objects.values_list("title", flat=True)) == ["Kept"]


def test_the_document_page_follows_the_access_policy(alice: User, bob: User, charlie: User) -> None:
    document = document_with_pages(owner=alice, pages=2, title="Shared <b>notes</b>")
    share(document, bob, "view_only")
    url = f"/documents/{document.pk}/"
    for person, status in ((alice, 200), (bob, 200), (charlie, 404)):
        assert client_of(person).get(url).status_code == status
    html = html_of(bob, url)
    assert "Shared &lt;b&gt;notes&lt;/b&gt;" in html
    assert "2 pages" in html
    assert "Shared with you by alice@example.com." in html
    assert "Your permission: View only." in html


def test_the_document_page_shows_the_cover_and_author_when_there_are_some(alice: User) -> None:
    document = document_with_pages(owner=alice, pages=1, title="The Lighthouse")
    url = f"/documents/{document.pk}/"
    html = html_of(alice, url)
    assert "<img" not in html.split('id="document-cover"')[1].split("</div>")[0]
    assert "By " not in html
    Document.objects.filter(pk=document.pk).update(cover_key="covers/x.jpg", author="Ada Writer")
    html = html_of(alice, url)
    cover = re.search(r'<div id="document-cover"[^>]*>\s*<img ([^>]*)>', html)
    assert cover is not None
    assert f'src="/api/v1/documents/{document.pk}/cover/"' in cover.group(1)
    assert 'alt="Cover of The Lighthouse"' in cover.group(1)
    assert "By Ada Writer" in html


def test_a_missing_document_is_the_same_404_as_a_hidden_one(charlie: User) -> None:
    assert client_of(charlie).get("/documents/999999/").status_code == 404


# --- The document page: pages and what each person is offered --------------------------------


def test_pages_link_to_the_reader_and_show_their_audio(alice: User) -> None:
    document = document_with_pages(owner=alice, pages=4)
    first, second, third, fourth = document.pages.order_by("number")
    AudioFactory.create(page=first, voice="fake:alpha", status=Audio.Status.COMPLETED)
    AudioFactory.create(page=first, voice="fake:beta", status=Audio.Status.COMPLETED)
    AudioFactory.create(page=second, status=Audio.Status.GENERATING)
    AudioFactory.create(page=third, status=Audio.Status.FAILED)
    AudioFactory.create(
        page=fourth, status=Audio.Status.COMPLETED, lifetime_status=Audio.Lifetime.DELETED
    )
    html = html_of(alice, f"/documents/{document.pk}/")
    rows = re.findall(r'<li class="page-row">(.*?)</li>', html, re.S)
    assert len(rows) == 4
    for page, row in zip((first, second, third, fourth), rows, strict=True):
        assert f'href="/pages/{page.pk}/"' in row
    assert "2 audios ready" in rows[0]
    assert "Audio being made" in rows[1]
    assert "Audio failed" in rows[2]
    assert "No audio yet" in rows[3]  # deleted audio does not count


OWNER_ONLY = ("/rename/", "/delete/", 'id="delete-dialog"')
SHARERS = ('id="share-dialog"', 'id="activity"', "/shares/")


@pytest.mark.parametrize(
    ("permission", "offered", "withheld"),
    [
        ("owner", OWNER_ONLY + SHARERS, ()),
        ("can_share", SHARERS, OWNER_ONLY),
        ("collaborator", (), OWNER_ONLY + SHARERS),
        ("view_only", (), OWNER_ONLY + SHARERS),
    ],
)
def test_controls_are_offered_only_to_people_allowed_to_use_them(
    alice: User, bob: User, permission: str, offered: tuple[str, ...], withheld: tuple[str, ...]
) -> None:
    document = document_with_pages(owner=alice, pages=1)
    viewer = alice
    if permission != "owner":
        share(document, bob, permission)
        viewer = bob
    html = html_of(viewer, f"/documents/{document.pk}/")
    for marker in offered:
        assert marker in html, marker
    for marker in withheld:
        assert marker not in html, marker


def test_the_share_dialog_lists_people_and_what_each_may_be_changed(
    alice: User, bob: User, charlie: User
) -> None:
    document = document_with_pages(owner=alice, pages=1)
    share(document, bob, "can_share")
    # Bob (can_share) shared with someone himself: he may change that share but not alice's.
    dave = UserFactory.create(email="dave@example.com")
    DocumentShare.objects.create(
        document=document, shared_with=dave, permission="view_only", shared_by=bob
    )
    share(document, charlie, "collaborator")
    html = html_of(bob, f"/documents/{document.pk}/")
    dialog = html.split('id="share-dialog"')[1].split("</dialog>")[0]
    assert "alice@example.com" in dialog
    assert "dave@example.com" in dialog
    dave_share = DocumentShare.objects.get(shared_with=dave)
    charlie_share = DocumentShare.objects.get(shared_with=charlie)
    assert f'action="/shares/{dave_share.pk}/"' in dialog
    assert f'action="/shares/{charlie_share.pk}/"' not in dialog
    assert f'action="/shares/{charlie_share.pk}/remove/"' not in dialog


def test_a_failed_document_shows_its_message_and_a_retry_button_to_its_owner(
    alice: User, bob: User
) -> None:
    document = DocumentFactory.create(
        owner=alice, status=Document.Status.FAILED, error_message="This PDF is encrypted."
    )
    share(document, bob, "can_share")
    for url in ("/library/", f"/documents/{document.pk}/"):
        owner_html = html_of(alice, url)
        assert "This PDF is encrypted." in owner_html
        assert f'action="/documents/{document.pk}/retry/"' in owner_html
        assert f'action="/documents/{document.pk}/retry/"' not in html_of(bob, url)


def test_documents_being_processed_are_watched_for_changes(alice: User) -> None:
    pending = DocumentFactory.create(owner=alice, status=Document.Status.PENDING)
    done = DocumentFactory.create(owner=alice, status=Document.Status.COMPLETED)
    library = html_of(alice, "/library/")
    assert f'data-watch="/api/v1/documents/{pending.pk}/"' in library
    assert f'data-watch="/api/v1/documents/{done.pk}/"' not in library
    assert 'aria-live="polite"' in library
    page = html_of(alice, f"/documents/{pending.pk}/")
    assert f'data-watch="/api/v1/documents/{pending.pk}/"' in page
    # The cover that processing finds is among what the page refreshes when it is done.
    assert 'data-refresh="document-cover document-status' in page


# --- The library ----------------------------------------------------------------------------


def titles_in(html: str) -> list[str]:
    found = re.findall(r'<h3 class="document-title"><a href="[^"]+">([^<]+)</a>', html)
    return [unescape(title) for title in found]


def test_the_library_shows_own_and_shared_documents_by_tab(
    alice: User, bob: User, charlie: User
) -> None:
    DocumentFactory.create(owner=alice, title="Alice's own")
    shared = DocumentFactory.create(owner=bob, title="Bob's shared")
    share(shared, alice, "view_only")
    DocumentFactory.create(owner=charlie, title="Charlie's private")
    assert sorted(titles_in(html_of(alice, "/library/"))) == ["Alice's own", "Bob's shared"]
    assert titles_in(html_of(alice, "/library/?tab=mine")) == ["Alice's own"]
    shared_tab = html_of(alice, "/library/?tab=shared")
    assert titles_in(shared_tab) == ["Bob's shared"]
    assert "Owner: bob@example.com" in shared_tab
    # An unknown tab is the default one.
    assert len(titles_in(html_of(alice, "/library/?tab=nonsense"))) == 2


def test_library_rows_show_a_cover_thumbnail_when_there_is_one(alice: User) -> None:
    with_cover = DocumentFactory.create(owner=alice, title="Covered", cover_key="covers/c.jpg")
    DocumentFactory.create(owner=alice, title="Plain")
    html = html_of(alice, "/library/")
    thumbs = re.findall(r'<img class="document-thumb" ([^>]*)>', html)
    assert len(thumbs) == 1
    assert f'src="/api/v1/documents/{with_cover.pk}/cover/"' in thumbs[0]
    assert 'alt=""' in thumbs[0]  # the title beside it says what it is


def test_only_the_owner_is_offered_delete_in_the_library(alice: User, bob: User) -> None:
    document = DocumentFactory.create(owner=bob, title="Bob's")
    share(document, alice, "can_share")
    mine = DocumentFactory.create(owner=alice, title="Mine")
    html = html_of(alice, "/library/")
    assert f'data-action="/documents/{mine.pk}/delete/"' in html
    assert f'data-action="/documents/{document.pk}/delete/"' not in html


def test_rows_kept_rendered_still_follow_each_person_and_each_change(
    alice: User, bob: User
) -> None:
    """A library row is kept rendered by everything it shows: the owner's copy is never the
    viewer's, a renamed or failed document is rendered anew, and a retry form carries the
    token of the page it is on."""
    document = DocumentFactory.create(owner=alice, title="Field notes")
    share(document, bob, "view_only")
    delete = f'data-action="/documents/{document.pk}/delete/"'
    rename = f'data-action="/documents/{document.pk}/rename/"'

    for _ in range(2):  # rendered, then kept
        owners = html_of(alice, "/library/")
        viewers = html_of(bob, "/library/")
        assert delete in owners
        assert rename in owners
        assert "Field notes" in viewers
        assert delete not in viewers
        assert rename not in viewers
        assert "Owner: " in viewers
        assert "Owner: " not in owners

    Document.objects.filter(pk=document.pk).update(title="Field notes, revised")
    assert "Field notes, revised" in html_of(bob, "/library/")
    Document.objects.filter(pk=document.pk).update(status=Document.Status.FAILED)
    browser = Client()
    browser.force_login(alice)
    first, second = (browser.get("/library/").content.decode() for _ in range(2))
    for html in (first, second):
        assert f'action="/documents/{document.pk}/retry/"' in html
    tokens = [
        re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html) for html in (first, second)
    ]
    # Each page's forms carry that page's (masked) token, not one kept from another page.
    assert tokens[0]
    assert tokens[1]
    assert set(tokens[0]).isdisjoint(tokens[1])


def header_of(html: str) -> str:
    return html.split('<header class="site-header">')[1].split("</header>")[0]


def test_the_header_kept_rendered_is_each_persons_own_and_follows_each_change(
    alice: User, bob: User
) -> None:
    """The header is kept rendered by everything it shows: one person's never shows to another,
    a new email, staff flag or page shows at once, and the log-out form carries the token of the
    page it is on (from outside the kept part, tied to it by `form`)."""
    for _ in range(2):  # rendered, then kept
        alices, bobs = header_of(html_of(alice, "/library/")), header_of(html_of(bob, "/library/"))
        assert "Signed in as alice@example.com" in alices
        assert "bob@example.com" not in alices
        assert "Signed in as bob@example.com" in bobs
        assert "alice@example.com" not in bobs
    anonymous = html_of(None, "/accounts/login/")
    assert "Signed in as" not in anonymous
    assert 'form="logout-form"' not in anonymous

    User.objects.filter(pk=alice.pk).update(email="alice.new@example.com", is_staff=True)
    header = header_of(html_of(alice, "/library/"))
    assert "Signed in as alice.new@example.com" in header
    assert "Dashboard" in header
    assert "Dashboard" not in header_of(html_of(bob, "/library/"))
    settings_header = header_of(html_of(alice, "/settings/"))
    assert 'href="/settings/" aria-current="page"' in settings_header
    assert 'href="/library/" aria-current="page"' not in settings_header

    # The log-out form posts this page's token: a browser that checks CSRF is logged out.
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(bob)
    html = browser.get("/library/").content.decode()
    tied = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)" form="logout-form"', html)
    assert tied is not None
    assert '<form id="logout-form" method="post" action="/accounts/logout/">' in header_of(html)
    logged_out = browser.post("/accounts/logout/", {"csrfmiddlewaretoken": tied[1]})
    assert logged_out.status_code == 302
    assert browser.get("/library/").status_code == 302  # to log in again


def test_the_list_kept_rendered_whole_follows_each_change_and_each_person(
    alice: User, bob: User
) -> None:
    """The rows are kept rendered as one by everything each shows: a share, a new document or
    a new place to continue shows at once, and nobody is shown another person's list."""
    mine = document_with_pages(owner=alice, pages=2, title="Alice's notes")
    lent = document_with_pages(owner=bob, pages=1, title="Bob's lent")
    share(lent, alice, "view_only")
    for _ in range(2):  # rendered, then kept
        assert titles_in(html_of(alice, "/library/")) == ["Bob's lent", "Alice's notes"]
        assert titles_in(html_of(bob, "/library/")) == ["Bob's lent"]
    assert f'href="/documents/{lent.pk}/?dialog=share#share-dialog"' not in html_of(
        alice, "/library/"
    )
    DocumentShare.objects.filter(document=lent, shared_with=alice).update(permission="can_share")
    assert f'href="/documents/{lent.pk}/?dialog=share#share-dialog"' in html_of(alice, "/library/")
    DocumentShare.objects.filter(document=lent, shared_with=alice).delete()
    assert titles_in(html_of(alice, "/library/")) == ["Alice's notes"]

    # A second page of documents: the page links follow the count.
    DocumentFactory.create_batch(20, owner=alice)
    assert "Page 1 of 2" in html_of(alice, "/library/")

    # Continue listening is each person's own, and follows where they are.
    page = mine.pages.get(number=1)
    audio = AudioFactory.create(page=page, duration_seconds=600.0)
    place = ListeningProgress.objects.create(
        user=alice, document=mine, page=page, audio=audio, position_seconds=65.0
    )
    for _ in range(2):
        assert "Continue listening" in html_of(alice, "/library/")
        assert "1:05" in html_of(alice, "/library/")
        assert "Continue listening" not in html_of(bob, "/library/")
    ListeningProgress.objects.filter(pk=place.pk).update(position_seconds=125.0)
    html = html_of(alice, "/library/")
    assert "2:05" in html
    assert "1:05" not in html
    Document.objects.filter(pk=mine.pk).update(title="Alice's notes, revised")
    continuing = html_of(alice, "/library/").split('id="continue-places"')[1].split("</section>")[0]
    assert "Alice's notes, revised" in unescape(continuing)


def test_rows_are_kept_rendered_as_one_by_everything_they_show(alice: User, bob: User) -> None:
    from web.views.pages import DocumentRow, RowWords

    document = DocumentFactory.create(owner=alice, title="Notes", page_count=2)
    links, words = DocumentLinks.current(), RowWords()
    owners = [DocumentRow.of(alice, document, links, words)]
    same = [DocumentRow.of(alice, document, links, RowWords())]
    assert DocumentRow.list_key(owners) == DocumentRow.list_key(same)
    share(document, bob, "view_only")
    viewers = [DocumentRow.of(bob, Document.objects.get(pk=document.pk), links, RowWords())]
    assert DocumentRow.list_key(viewers) != DocumentRow.list_key(owners)
    document.title = "Notes 2"
    renamed = [DocumentRow.of(alice, document, links, words)]
    assert DocumentRow.list_key(renamed) != DocumentRow.list_key(owners)
    # A row with a retry form holds the page's CSRF token: the list is not kept whole.
    document.status = Document.Status.FAILED
    assert DocumentRow.list_key([DocumentRow.of(alice, document, links, words)]) == ""


def test_the_library_searches_titles(alice: User) -> None:
    for title in ("Moby Dick", "Dick Tracy", "Emma"):
        DocumentFactory.create(owner=alice, title=title)
    assert sorted(titles_in(html_of(alice, "/library/?q=dick"))) == ["Dick Tracy", "Moby Dick"]
    assert "No documents match “zebra”." in html_of(alice, "/library/?q=zebra")


def test_a_search_with_nul_characters_searches_without_them(alice: User) -> None:
    # PostgreSQL refuses NUL in text, and no title holds one (run with DATABASE_URL to see it).
    for title in ("Moby Dick", "Emma"):
        DocumentFactory.create(owner=alice, title=title)
    assert titles_in(html_of(alice, "/library/?q=di%00ck")) == ["Moby Dick"]
    assert sorted(titles_in(html_of(alice, "/library/?q=%00"))) == ["Emma", "Moby Dick"]
    assert sorted(titles_in(html_of(alice, "/library/?q=%00&tab=mine&page=%00"))) == [
        "Emma", "Moby Dick",
    ]  # fmt: skip


def test_the_library_is_paginated_and_keeps_tab_and_search(alice: User) -> None:
    for number in range(25):
        DocumentFactory.create(owner=alice, title=f"Report {number:02}")
    first = html_of(alice, "/library/?tab=mine&q=report")
    assert len(titles_in(first)) == 20
    assert "Page 1 of 2" in first
    assert 'href="?tab=mine&amp;q=report&amp;page=2"' in first
    second = html_of(alice, "/library/?tab=mine&q=report&page=2")
    assert len(titles_in(second)) == 5
    assert set(titles_in(first)).isdisjoint(titles_in(second))
    # Out of range is the last page, not an error.
    assert titles_in(html_of(alice, "/library/?page=99")) == titles_in(second)


def _library_of_every_kind(alice: User, bob: User, count: int, *, listened: bool) -> None:
    """`count` documents for alice to see, of every kind the library shows differently, and
    when `listened` four of them to continue."""
    kinds: list[dict[str, Any]] = [
        {"status": Document.Status.COMPLETED, "page_count": 2, "cover_key": "covers/c.jpg"},
        {"status": Document.Status.FAILED, "error_message": "Could not read it."},
        {"status": Document.Status.PROCESSING},
        {"status": Document.Status.COMPLETED, "page_count": 1},
    ]
    for number in range(count):
        if number % 5 == 4:  # someone else's, shared with alice
            share(DocumentFactory.create(owner=bob, page_count=1), alice, "collaborator")
        else:
            DocumentFactory.create(owner=alice, **kinds[number % len(kinds)])
    for document in Document.objects.filter(owner=alice)[: 4 if listened else 0]:
        page = PageFactory.create(document=document, number=1)
        audio = AudioFactory.create(page=page, duration_seconds=30.0)
        ListeningProgress.objects.create(
            user=alice, document=document, page=page, audio=audio, position_seconds=3.0
        )


@pytest.mark.parametrize("tab", ["all", "mine", "shared"])
def test_the_library_costs_the_same_few_queries_for_10_and_200_documents(
    alice: User, bob: User, tab: str
) -> None:
    def queries(url: str) -> tuple[int, str]:
        client = client_of(alice)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200
        return len(captured), response.content.decode()

    _library_of_every_kind(alice, bob, 10, listened=True)
    few, html = queries(f"/library/?tab={tab}")
    assert titles_in(html)  # rows, with continue listening, failures, shares and covers
    assert "Continue listening" in html
    _library_of_every_kind(alice, bob, 190, listened=False)
    many, html = queries(f"/library/?tab={tab}")
    assert len(titles_in(html)) == 20
    # The session, its user, the count, the rows and continue listening.
    assert many == few <= 5
    assert queries(f"/library/?tab={tab}&q=document")[0] == few


def test_library_links_are_those_the_urls_name() -> None:
    links = DocumentLinks()
    for pk in (1, 42, 987_654_321_012_345_678):
        assert links.address(links.page, pk) == reverse("document-page", args=[pk])
        assert links.address(links.listen, pk) == reverse("document-listen", args=[pk])
        assert links.address(links.cover, pk) == reverse("document-cover", args=[pk])
        assert links.address(links.delete, pk) == reverse("web-delete", args=[pk])
        assert links.address(links.rename, pk) == reverse("web-rename", args=[pk])
        assert links.address(links.retry, pk) == reverse("web-retry", args=[pk])
        assert links.address(links.api, pk) == reverse("document-detail", args=[pk])
        assert links.address(links.api_retry, pk) == reverse("document-retry", args=[pk])


def test_adding_a_document_is_one_button_that_opens_the_form(alice: User, settings: Any) -> None:
    settings.UPLOAD_MAX_BYTES = 3 * 1024 * 1024
    DocumentFactory.create(owner=alice, title="Notes")
    html = html_of(alice, "/library/?tab=mine")
    # A link that opens the dialog with JavaScript, and the same page with it open without.
    button = re.search(r'<a class="button primary add-button" ([^>]*)>', html)
    assert button is not None
    assert 'href="?tab=mine&amp;dialog=add#add-dialog"' in button[1]
    assert 'data-dialog="add-dialog"' in button[1]
    closed = re.search(r'<dialog id="add-dialog"[^>]*>', html)
    assert closed is not None
    assert " open>" not in closed[0]
    # The browser checks the size before sending, against the server's limit.
    assert 'data-max-bytes="3145728"' in html
    assert 'data-max-label="3 MB"' in html
    # Upload, web page and pasted text are all in it; a file may be dropped anywhere.
    dialog = html.split('<dialog id="add-dialog"')[1].split("</dialog>")[0]
    for form_id in ('id="upload-form"', 'id="import-url"', 'id="paste-text"'):
        assert form_id in dialog
    assert 'id="drop-overlay"' in html
    assert "Drop to add to your library" in html
    opened = html_of(alice, "/library/?dialog=add")
    assert re.search(r'<dialog id="add-dialog"[^>]*\bopen>', opened)


def test_each_row_offers_listen_and_a_menu_of_what_this_person_may_do(
    alice: User, bob: User
) -> None:
    mine = document_with_pages(owner=alice, pages=2, title="Mine")
    pending = DocumentFactory.create(owner=alice, title="Later", status=Document.Status.PENDING)
    lent = document_with_pages(owner=bob, pages=1, title="Lent to share")
    share(lent, alice, "can_share")
    read = document_with_pages(owner=bob, pages=1, title="Only to read")
    share(read, alice, "view_only")
    html = html_of(alice, "/library/")

    def row(document: Document) -> str:
        found = re.search(rf'id="document-{document.pk}".*?</div>\s*</li>', html, re.S)
        assert found is not None
        return found[0]

    own = row(mine)
    assert f'href="/documents/{mine.pk}/listen/?listen=1"' in own
    assert '<details class="menu row-menu" data-menu>' in own
    assert "More for Mine" in own
    assert f'data-action="/documents/{mine.pk}/rename/"' in own
    assert f'href="/documents/{mine.pk}/?dialog=share#share-dialog"' in own
    assert f'data-action="/documents/{mine.pk}/delete/"' in own
    # Nothing to listen to yet.
    assert "/listen/" not in row(pending)
    # Shared with the right to share: share, but neither rename nor delete.
    shared = row(lent)
    assert f'href="/documents/{lent.pk}/?dialog=share#share-dialog"' in shared
    assert "data-rename-document" not in shared
    assert "data-delete-document" not in shared
    # To read only: listening, and no menu at all.
    only = row(read)
    assert f'href="/documents/{read.pk}/listen/?listen=1"' in only
    assert "data-menu" not in only
    # The library renames in a dialog, through the API.
    assert '<dialog id="rename-dialog"' in html
    assert 'data-api-method="PATCH"' in html


def test_the_header_keeps_secondary_links_in_the_account_menu(alice: User) -> None:
    html = html_of(alice, "/library/")
    header = html.split('<header class="site-header">')[1].split("</header>")[0]
    menu = header.split('<details class="menu account-menu" data-menu>')[1]
    assert "Signed in as alice@example.com" in menu
    assert 'action="/accounts/logout/"' in menu
    assert 'href="/library/" aria-current="page"' in header
    assert 'href="/settings/"' in header
    assert "Dashboard" not in header
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    staff_menu = html_of(alice, "/library/").split('<details class="menu account-menu"')[1]
    assert "Dashboard" in staff_menu.split("</details>")[0]


# --- Forms that work without JavaScript ------------------------------------------------------


def test_uploading_a_file_from_the_form(alice: User, run_tasks: Capture) -> None:
    upload = SimpleUploadedFile("notes.md", b"# Notes\n\nSome words to read aloud.")
    with run_tasks(execute=True):
        response = client_of(alice).post(
            "/library/upload/", {"file": upload, "title": ""}, follow=True
        )
    document = Document.objects.get(owner=alice)
    assert document.title == "Notes"
    assert document.status == Document.Status.COMPLETED  # tasks run eagerly in tests
    assert "“notes” was uploaded." in messages_of(response)  # named by the file until read


def test_an_unsupported_upload_is_refused_and_leaves_nothing(alice: User) -> None:
    upload = SimpleUploadedFile("tiny.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    response = client_of(alice).post("/library/upload/", {"file": upload}, follow=True)
    assert Document.objects.count() == 0
    assert any("not supported" in message for message in messages_of(response))


def test_pasting_text_and_the_shared_upload_allowance(
    alice: User, monkeypatch: pytest.MonkeyPatch, run_tasks: Capture
) -> None:
    # One allowance for the API and the pages: the API's upload rate applies here too.
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "upload", "1/hour")
    client = client_of(alice)
    with run_tasks(execute=True):
        client.post("/library/paste/", {"title": "Pasted", "text": "Words to hear."})
    document = Document.objects.get()
    assert (document.title, document.status) == ("Pasted", Document.Status.COMPLETED)
    second = client.post("/library/paste/", {"title": "Again", "text": "More."}, follow=True)
    assert Document.objects.count() == 1
    assert any("Too many requests" in message for message in messages_of(second))


def test_refused_uploads_from_the_forms_do_not_spend_the_allowance(
    alice: User, monkeypatch: pytest.MonkeyPatch, run_tasks: Capture, settings: Any
) -> None:
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "upload", "1/hour")
    settings.UPLOAD_MAX_BYTES = 4096
    client = client_of(alice)
    refusals: list[tuple[str, dict[str, Any]]] = [
        ("/library/upload/", {"file": SimpleUploadedFile("tiny.png", b"\x89PNG\r\n\x1a\n" * 8)}),
        ("/library/upload/", {"file": SimpleUploadedFile("empty.txt", b"")}),
        ("/library/upload/", {"file": SimpleUploadedFile("big.txt", b"x" * 8192)}),
        ("/library/paste/", {"title": "Blank", "text": "   "}),
        ("/library/import/", {"url": "http://10.0.0.1/"}),
    ]
    for url, body in refusals * 2:  # ten refusals
        for upload in body.values():
            if isinstance(upload, SimpleUploadedFile):
                upload.seek(0)
        refused = client.post(url, body, follow=True)
        said = " ".join(messages_of(refused))
        assert said, url
        assert "Too many requests" not in said, (url, said)
    assert not Document.objects.exists()
    with run_tasks(execute=True):
        accepted = client.post(
            "/library/upload/", {"file": SimpleUploadedFile("notes.md", b"# Notes\n\nWords.")},
            follow=True,
        )  # fmt: skip
    assert "“notes” was uploaded." in messages_of(accepted)
    # The one of the hour is spent: the next waits, and is told for how long in words.
    again = client.post("/library/paste/", {"title": "More", "text": "More."}, follow=True)
    assert messages_of(again) == ["Too many requests. Try again in about an hour."]
    assert Document.objects.count() == 1


def test_importing_from_a_private_address_is_refused(alice: User) -> None:
    response = client_of(alice).post("/library/import/", {"url": "http://10.0.0.1/"}, follow=True)
    assert Document.objects.count() == 0
    assert messages_of(response)


def test_renaming_is_for_the_owner_only(alice: User, bob: User, charlie: User) -> None:
    document = document_with_pages(owner=alice, pages=1, title="Old")
    share(document, bob, "can_share")
    url = f"/documents/{document.pk}/rename/"
    assert client_of(bob).post(url, {"title": "Bob's"}).status_code == 403
    assert client_of(charlie).post(url, {"title": "Charlie's"}).status_code == 404
    response = client_of(alice).post(url, {"title": "  "}, follow=True)
    assert any("required" in message for message in messages_of(response))
    document.refresh_from_db()
    assert document.title == "Old"
    response = client_of(alice).post(url, {"title": "New"})
    assert response["Location"] == f"/documents/{document.pk}/"
    document.refresh_from_db()
    assert (document.title, document.title_is_custom) == ("New", True)


def test_deleting_needs_the_typed_title(alice: User, bob: User) -> None:
    document = document_with_pages(owner=alice, pages=2, title="Precious")
    share(document, bob, "can_share")
    url = f"/documents/{document.pk}/delete/"
    assert client_of(bob).post(url, {"confirm_title": "Precious"}).status_code == 403
    wrong = client_of(alice).post(url, {"confirm_title": "precious!"}, follow=True)
    assert "The title you typed does not match." in messages_of(wrong)
    assert wrong.redirect_chain[-1][0] == f"/documents/{document.pk}/?dialog=delete#delete-dialog"
    assert Document.objects.filter(pk=document.pk).exists()
    response = client_of(alice).post(url, {"confirm_title": "Precious"})
    assert response["Location"] == "/library/"
    assert not Document.objects.filter(pk=document.pk).exists()
    entry = AccessLog.objects.get(action=AccessLog.Action.DELETE)
    assert (entry.outcome, entry.details["document_id"]) == ("success", document.pk)


def test_retrying_a_failed_document(alice: User, bob: User, run_tasks: Capture) -> None:
    document = document_services.create_document_from_text(
        owner=alice, title="Notes", text="Something to read."
    )
    Document.objects.filter(pk=document.pk).update(
        status=Document.Status.FAILED, error_message="Broken."
    )
    share(document, bob, "collaborator")
    url = f"/documents/{document.pk}/retry/"
    assert client_of(bob).post(url).status_code == 403
    with run_tasks(execute=True):
        response = client_of(alice).post(url, {"next": "library"})
    assert response["Location"] == "/library/"
    document.refresh_from_db()
    assert document.status == Document.Status.COMPLETED
    again = client_of(alice).post(url, follow=True)
    assert "Only a document whose processing failed can be retried." in messages_of(again)


def test_sharing_from_the_dialog(alice: User, bob: User, charlie: User) -> None:
    document = document_with_pages(owner=alice, pages=1)
    url = f"/documents/{document.pk}/shares/"
    owner = client_of(alice)
    response = owner.post(url, {"email": "BOB@example.com", "permission": "collaborator"})
    assert response["Location"] == f"/documents/{document.pk}/?dialog=share#share-dialog"
    # An invitation, in the same words whoever the address belongs to; bob has access once he
    # accepts.
    assert messages_of(owner.get(response["Location"])) == [
        "bob@example.com was invited. The invitation is listed below until it is accepted."
    ]
    invited = owner.post(
        url, {"email": "nobody@example.com", "permission": "view_only"}, follow=True
    )
    assert messages_of(invited) == [
        "nobody@example.com was invited. The invitation is listed below until it is accepted."
    ]
    assert ShareInvitation.objects.count() == 2
    assert AccessLog.objects.filter(action="invite", outcome="success").count() == 2
    assert not DocumentShare.objects.exists()
    accept_invitations(user=bob)
    made = DocumentShare.objects.get(document=document)
    assert (made.shared_with, made.permission, made.shared_by) == (bob, "collaborator", alice)
    # The address of someone who holds a share has that share changed.
    again = owner.post(url, {"email": bob.email, "permission": "view_only"}, follow=True)
    assert messages_of(again) == ["The share with bob@example.com was updated."]
    made.refresh_from_db()
    assert made.permission == "view_only"
    # A view-only person may not share; a stranger does not see the document at all.
    assert (
        client_of(bob).post(url, {"email": charlie.email, "permission": "view_only"}).status_code
        == 403
    )
    assert (
        client_of(charlie).post(url, {"email": bob.email, "permission": "view_only"}).status_code
        == 404
    )
    assert ShareInvitation.objects.count() == 1

    change = owner.post(f"/shares/{made.pk}/", {"permission": "collaborator"})
    assert change.status_code == 302
    made.refresh_from_db()
    assert made.permission == "collaborator"
    assert client_of(charlie).post(f"/shares/{made.pk}/remove/").status_code == 404
    owner.post(f"/shares/{made.pk}/remove/")
    assert not DocumentShare.objects.exists()
    actions = set(AccessLog.objects.values_list("action", flat=True))
    assert {"invite", "share", "permission_change", "unshare"} <= actions


def test_the_share_dialog_lists_pending_invitations_and_withdraws_them(
    alice: User, bob: User, charlie: User
) -> None:
    document = document_with_pages(owner=alice, pages=1)
    share(document, bob, "can_share")
    url = f"/documents/{document.pk}/shares/"
    client_of(alice).post(url, {"email": "new@example.com", "permission": "collaborator"})
    client_of(bob).post(url, {"email": "bobs.friend@example.com", "permission": "view_only"})
    owner = client_of(alice)
    expired = ShareInvitation.objects.create(
        document=document, email="late@example.com", permission="view_only", invited_by=alice,
        expires_at=timezone.now(),
    )  # fmt: skip
    mine = ShareInvitation.objects.get(email="new@example.com")
    bobs = ShareInvitation.objects.get(email="bobs.friend@example.com")

    dialog = share_dialog(alice, document)
    invited = dialog.split('<ul class="share-list invitation-list">')[1].split("</ul>")[0]
    assert "new@example.com" in invited
    assert "Invited by you" in invited
    assert "Collaborator" in invited
    assert f"Expires on {date_format(mine.expires_at, 'DATE_FORMAT')}" in invited
    assert "bobs.friend@example.com" in invited
    assert "Invited by bob@example.com" in invited
    assert "late@example.com" not in dialog  # expired: no longer honoured, so not listed
    # The owner may withdraw both, with a form that works without JavaScript.
    assert f'action="/invitations/{mine.pk}/withdraw/"' in invited
    assert f'action="/invitations/{bobs.pk}/withdraw/"' in invited
    assert 'name="csrfmiddlewaretoken"' in invited
    # Bob may withdraw only his own; a view-only person sees no invitations at all.
    as_bob = share_dialog(bob, document)
    assert f'action="/invitations/{bobs.pk}/withdraw/"' in as_bob
    assert f'action="/invitations/{mine.pk}/withdraw/"' not in as_bob
    assert "new@example.com" in as_bob
    share(document, charlie, "view_only")
    assert "new@example.com" not in html_of(charlie, f"/documents/{document.pk}/")

    assert client_of(bob).post(f"/invitations/{mine.pk}/withdraw/").status_code == 403
    assert client_of(charlie).post(f"/invitations/{mine.pk}/withdraw/").status_code == 404
    response = owner.post(f"/invitations/{mine.pk}/withdraw/", follow=True)
    assert response.redirect_chain[0][0] == f"/documents/{document.pk}/?dialog=share#share-dialog"
    assert messages_of(response) == ["The invitation to new@example.com was withdrawn."]
    assert set(ShareInvitation.objects.values_list("pk", flat=True)) == {bobs.pk, expired.pk}
    assert "new@example.com" not in share_dialog(alice, document)
    assert AccessLog.objects.filter(action="invite_withdraw", outcome="success").count() == 1
    assert owner.get(f"/invitations/{bobs.pk}/withdraw/").status_code == 405


def share_dialog(user: User, document: Document) -> str:
    html = html_of(user, f"/documents/{document.pk}/?dialog=share")
    return unescape(html.split('id="share-dialog"')[1].split("</dialog>")[0])


def row_of(dialog: str, email: str) -> str:
    """The dialog's list item for the person with this email."""
    items = dialog.split('<ul class="share-list">')[1].split("</ul>")[0].split("<li>")
    (row,) = [item for item in items if item.strip().startswith(f"<span>{email}")]
    return " ".join(row.split())


def bob_shared_with_dave(alice: User, bob: User) -> tuple[Document, User, DocumentShare]:
    document = document_with_pages(owner=alice, pages=1)
    bobs = share(document, bob, "can_share")
    dave = UserFactory.create(email="dave@example.com")
    response = client_of(bob).post(
        f"/documents/{document.pk}/shares/", {"email": dave.email, "permission": "view_only"}
    )
    assert response.status_code == 302
    assert len(accept_invitations(user=dave)) == 1
    return document, dave, bobs


def test_the_share_dialog_says_who_granted_each_share(alice: User, bob: User) -> None:
    document, _dave, _bobs = bob_shared_with_dave(alice, bob)
    as_owner = share_dialog(alice, document)
    assert "Shared by you" in row_of(as_owner, "bob@example.com")
    assert "Shared by bob@example.com" in row_of(as_owner, "dave@example.com")
    as_bob = share_dialog(bob, document)
    assert "Shared by alice@example.com (the owner)" in row_of(as_bob, "bob@example.com")
    assert "Shared by you" in row_of(as_bob, "dave@example.com")
    assert "no longer has access" not in as_owner


def test_removing_a_person_keeps_the_shares_they_granted_marked(alice: User, bob: User) -> None:
    document, dave, bobs = bob_shared_with_dave(alice, bob)
    bob_row = row_of(share_dialog(alice, document), "bob@example.com")
    # The owner is offered to take bob's shares along, by name, in both of bob's forms.
    assert f'id="share-{bobs.pk}-remove-cascade" name="cascade"' in bob_row
    assert "Also remove the share bob@example.com granted (dave@example.com)" in bob_row
    assert f'for="share-{bobs.pk}-change-cascade"' in bob_row
    assert "If bob@example.com can no longer share, also remove the share" in bob_row

    response = client_of(alice).post(f"/shares/{bobs.pk}/remove/", follow=True)
    assert messages_of(response) == ["The share was removed."]
    assert DocumentShare.objects.filter(shared_with=dave).exists()
    dave_row = row_of(share_dialog(alice, document), "dave@example.com")
    assert "Shared by bob@example.com" in dave_row
    assert "Granted by someone who no longer has access" in dave_row


def test_removing_a_person_can_remove_the_shares_they_granted(alice: User, bob: User) -> None:
    document, dave, bobs = bob_shared_with_dave(alice, bob)
    response = client_of(alice).post(f"/shares/{bobs.pk}/remove/", {"cascade": "true"}, follow=True)
    assert messages_of(response) == [
        "The share was removed. The share they granted (dave@example.com) was removed too."
    ]
    assert not DocumentShare.objects.filter(document=document).exists()
    unshared = AccessLog.objects.filter(action="unshare", outcome="success")
    assert sorted(unshared.values_list("details__shared_with", flat=True)) == [bob.pk, dave.pk]


def test_downgrading_a_person_can_remove_the_shares_they_granted(alice: User, bob: User) -> None:
    _document, dave, bobs = bob_shared_with_dave(alice, bob)
    client_of(alice).post(f"/shares/{bobs.pk}/", {"permission": "collaborator", "cascade": "on"})
    bobs.refresh_from_db()
    assert bobs.permission == "collaborator"
    assert not DocumentShare.objects.filter(shared_with=dave).exists()


def test_only_those_who_may_remove_the_granted_shares_are_offered_to(
    alice: User, bob: User, charlie: User
) -> None:
    document, _dave, bobs = bob_shared_with_dave(alice, bob)
    # Charlie may share but gave neither bob's share nor dave's: no offer, no forms.
    share(document, charlie, "can_share")
    as_charlie = share_dialog(charlie, document)
    assert 'name="cascade"' not in as_charlie
    assert "Shared by bob@example.com" in row_of(as_charlie, "dave@example.com")
    response = client_of(charlie).post(f"/shares/{bobs.pk}/remove/", {"cascade": "true"})
    assert response.status_code == 403
    assert DocumentShare.objects.count() == 3


def test_the_share_dialog_costs_the_same_queries_for_2_and_20_shares(
    alice: User, bob: User
) -> None:
    document = document_with_pages(owner=alice, pages=1)
    share(document, bob, "can_share")
    gone = UserFactory.create(is_active=False)

    def add(n: int) -> None:
        for index in range(n):
            DocumentShare.objects.create(
                document=document, shared_with=UserFactory.create(), permission="view_only",
                shared_by=(alice, bob, gone)[index % 3],
            )  # fmt: skip
            ShareInvitation.objects.create(
                document=document, email=UserFactory.build().email, permission="view_only",
                invited_by=(alice, bob, None)[index % 3],
                expires_at=timezone.now() + timedelta(days=1),
            )  # fmt: skip

    def queries() -> int:
        client = client_of(alice)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/documents/{document.pk}/").status_code == 200
        return len(captured)

    add(1)
    few = queries()
    add(18)
    assert DocumentShare.objects.filter(document=document).count() == 20
    assert queries() == few
    # Bob (can_share) keeps his grants valid; the inactive account's are marked.
    marked = share_dialog(alice, document).count("Granted by someone who no longer has access")
    assert marked == 6


def test_settings_save_a_voice_that_exists(alice: User) -> None:
    client = client_of(alice)
    html = client.get("/settings/").content.decode()
    # Voices grouped by language, each by its short name there; the site's default named.
    british = re.search(r'<optgroup label="English \(GB\)">(.*?)</optgroup>', html, re.S)
    assert british
    assert '<option value="fake:beta">Beta · Test tones</option>' in british.group(1)
    assert "The site's default is Alpha (English (US), Test tones)." in html
    assert 'href="/accounts/password/change/"' in html
    assert 'href="/accounts/email/"' in html
    client.post("/settings/", {"preferred_voice": "fake:beta"})
    alice.refresh_from_db()
    assert alice.preferred_voice == "fake:beta"
    refused = client.post("/settings/", {"preferred_voice": "fake:nobody"})
    assert refused.status_code == 200
    alice.refresh_from_db()
    assert alice.preferred_voice == "fake:beta"
    assert '<option value="fake:beta" selected>Beta · Test tones</option>' in (
        client.get("/settings/").content.decode()
    )
    client.post("/settings/", {"preferred_voice": ""})
    alice.refresh_from_db()
    assert alice.preferred_voice == ""


# --- What every page is made of ---------------------------------------------------------------


class PageParts(HTMLParser):
    """Collects a page's scripts, assets, inline styles and handlers, and form controls."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.assets: list[str] = []
        self.inline: list[str] = []
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.ids: set[str] = set()
        self.lang: str | None = None
        self.in_label = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag == "html":
            self.lang = found.get("lang")
        if tag == "script":
            self.scripts.append(found)
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.inline.append(f"{tag} {name}")
            if name in ("src", "srcset") or (tag == "link" and name == "href"):
                self.assets.append(value or "")
        if tag == "label":
            self.in_label += 1
            if found.get("for"):
                self.label_for.add(str(found["for"]))
        if tag in ("input", "select", "textarea") and found.get("type") not in (
            "hidden",
            "submit",
            "button",
        ):
            self.controls.append({**found, "wrapped": "yes" if self.in_label else None})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.in_label -= 1


def every_page(alice: User, bob: User) -> list[tuple[User | None, str]]:
    document = document_with_pages(owner=alice, pages=2)
    share(document, bob, "view_only")
    DocumentFactory.create(owner=alice, status=Document.Status.FAILED, error_message="Broken.")
    page = document.pages.order_by("number").first()
    assert page is not None
    return [
        (None, "/"),
        (None, "/accounts/login/"),
        (None, "/accounts/signup/"),
        (None, "/accounts/password/reset/"),
        (None, "/accounts/password/reset/done/"),
        (None, "/accounts/confirm-email/"),
        (None, "/accounts/password/reset/key/1-bad-key/"),
        (alice, "/library/"),
        (alice, "/library/?tab=shared"),
        (alice, f"/documents/{document.pk}/"),
        (alice, f"/documents/{document.pk}/?dialog=share#share-dialog"),
        (bob, f"/documents/{document.pk}/"),
        (alice, f"/pages/{page.pk}/"),
        (alice, "/settings/"),
        (alice, "/accounts/email/"),
        (alice, "/accounts/password/change/"),
        (alice, "/accounts/logout/"),
    ]


EXECUTABLE_SCRIPT_TYPES = {None, "", "text/javascript", "module", "application/javascript"}


def test_pages_have_no_inline_script_or_style_and_load_only_local_assets(
    alice: User, bob: User
) -> None:
    fetched: set[str] = set()
    for person, url in every_page(alice, bob):
        response = client_of(person).get(url)
        assert response.status_code == 200, url
        assert "script-src 'self'" in response["Content-Security-Policy"], url
        parts = PageParts()
        parts.feed(response.content.decode())
        assert parts.inline == [], (url, parts.inline)
        for script in parts.scripts:
            if script.get("type") in EXECUTABLE_SCRIPT_TYPES:
                assert script.get("src"), f"inline script on {url}"
                assert "defer" in script or script.get("type") == "module", url
            else:
                assert script.get("type") == "application/json", url
        for asset in parts.assets:
            if asset.startswith("data:"):
                continue  # inline data: no request at all
            assert asset.startswith("/"), (url, asset)
            assert not asset.startswith("//"), (url, asset)
            fetched.add(asset)
    assert "/static/pagecast.css" in fetched
    assert "/static/js/pagecast.js" in fetched
    anonymous = Client()
    for asset in sorted(fetched):
        if asset.startswith("/static/") or asset == "/jsi18n/":
            assert anonymous.get(asset).status_code == 200, asset


def test_pages_are_accessible_in_their_structure(alice: User, bob: User) -> None:
    for person, url in every_page(alice, bob):
        html = client_of(person).get(url).content.decode()
        parts = PageParts()
        parts.feed(html)
        assert parts.lang, url
        assert '<a class="skip-link" href="#main">' in html, url
        assert '<main id="main"' in html, url
        assert html.count("<h1") >= 1, url
        assert 'name="csrf-token"' in html, url
        for control in parts.controls:
            labelled = (
                control.get("wrapped")
                or control.get("id") in parts.label_for
                or control.get("aria-label")
                or control.get("aria-labelledby")
            )
            assert labelled, (url, control)


# --- Translations ---------------------------------------------------------------------------

OWN_TEMPLATES = [
    ROOT / "templates" / "base.html",
    ROOT / "templates" / "includes" / "site_header.html",
    *sorted((ROOT / "templates" / "account").rglob("*.html")),
    *sorted((ROOT / "templates" / "allauth").rglob("*.html")),
    *sorted(
        path
        for path in (ROOT / "web" / "templates" / "web").rglob("*.html")
        if path.name != "reader.html"
    ),
]
# Words that are the same in every language.
UNTRANSLATED_ALLOWED = {"Pagecast"}


def untranslated_text(source: str) -> list[str]:
    without = re.sub(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", " ", source, flags=re.S)
    without = re.sub(
        r"{%\s*blocktranslate.*?%}.*?{%\s*endblocktranslate\s*%}", " ", without, flags=re.S
    )
    without = re.sub(r"{%.*?%}|{{.*?}}|{#.*?#}", " ", without, flags=re.S)
    without = re.sub(r"<!--.*?-->", " ", without, flags=re.S)
    found = []
    # Text between tags.
    for text in re.findall(r">([^<>]+)<", without):
        words = text.strip()
        if re.search(r"[A-Za-z]", words) and words not in UNTRANSLATED_ALLOWED:
            found.append(words)
    # Attributes people read.
    for _name, value in re.findall(
        r'\s(aria-label|placeholder|title|alt|data-success)="([^"]*)"', without
    ):
        if re.search(r"[A-Za-z]", value) and value.strip() != "https://":
            found.append(value)
    return found


@pytest.mark.parametrize("template", OWN_TEMPLATES, ids=lambda path: path.name)
def test_every_string_in_the_templates_is_marked_for_translation(template: Path) -> None:
    assert untranslated_text(template.read_text()) == []


def test_the_translation_check_finds_unmarked_words() -> None:
    assert untranslated_text('<p>Hello</p><input placeholder="Name">') == ["Hello", "Name"]
    assert untranslated_text("<p>{% translate 'Hello' %}</p>") == []


def test_the_scripts_get_their_translations_from_django() -> None:
    response = Client().get("/jsi18n/")
    assert response.status_code == 200
    assert b"gettext" in response.content


# --- The audiobook section ----------------------------------------------------------------------


def test_a_collaborator_makes_the_audiobook_from_the_document_page(
    alice: User, bob: User, run_tasks: Capture, settings: object
) -> None:
    from speech_processing.models import Audiobook

    document = document_with_pages(owner=alice, pages=2)
    share(document, bob, "collaborator")
    browser = client_of(bob)
    assert f'action="/documents/{document.pk}/audiobook/"' in html_of(
        bob, f"/documents/{document.pk}/"
    )
    with run_tasks(execute=True):
        response = browser.post(
            f"/documents/{document.pk}/audiobook/", {"voice": "fake:alpha"}, follow=True
        )
    assert response.status_code == 200
    assert any("audiobook is being made" in message for message in messages_of(response))
    book = Audiobook.objects.get(document=document)
    assert (book.voice, book.created_by) == ("fake:alpha", bob)
    assert AccessLog.objects.filter(user=bob, action="generate", outcome="success").exists()
    page = html_of(bob, f"/documents/{document.pk}/")
    assert book.get_status_display() in page


def test_a_view_only_person_is_not_offered_the_audiobook_and_is_refused(
    alice: User, bob: User
) -> None:
    from speech_processing.models import Audiobook

    document = document_with_pages(owner=alice, pages=1)
    share(document, bob, "view_only")
    assert "/audiobook/" not in html_of(bob, f"/documents/{document.pk}/")
    response = client_of(bob).post(f"/documents/{document.pk}/audiobook/", {"voice": "fake:alpha"})
    assert response.status_code in (302, 403)
    assert not Audiobook.objects.exists()
    assert AccessLog.objects.filter(user=bob, action="generate", outcome="denied").exists()


def test_a_stranger_cannot_make_an_audiobook_of_a_document_they_cannot_see(
    alice: User, charlie: User
) -> None:
    from speech_processing.models import Audiobook

    document = document_with_pages(owner=alice, pages=1)
    response = client_of(charlie).post(f"/documents/{document.pk}/audiobook/", {})
    assert response.status_code == 404
    assert not Audiobook.objects.exists()


def test_the_landing_page_offers_the_default_language_first_and_few_voices_per_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from speech_processing import voices
    from speech_processing.engines.base import Voice

    catalogue = [
        Voice("piper:en_US-joe-medium", "piper", "en_US-joe-medium", "en-US", "male"),
        *[Voice(f"espeak:{code}", "espeak", code, code, "") for code in ("af", "am", "ar", "en")],
        Voice("fake:alpha", "fake", "alpha", "en-US", ""),
        Voice("fake:beta", "fake", "beta", "en-GB", ""),
        Voice("fake:gamma", "fake", "gamma", "en-US", ""),
    ]
    monkeypatch.setattr(voices, "all_voices", lambda: catalogue)
    html = html_of(None, "/")
    samples = re.findall(r'<audio controls preload="none" src="/voices/([^/]+)/sample/"', html)
    assert samples[0] == "fake:alpha"  # the default voice (test settings)
    assert set(samples) == {
        "fake:alpha", "fake:beta", "piper:en_US-joe-medium", "espeak:en", "espeak:af",
    }  # fmt: skip


# --- Audio for every page -----------------------------------------------------------------------


@pytest.mark.parametrize("permission", ["owner", "can_share", "collaborator"])
def test_audio_for_every_page_is_made_from_one_form(
    alice: User, bob: User, run_tasks: Capture, permission: str
) -> None:
    document = document_with_pages(owner=alice, pages=3)
    person = alice if permission == "owner" else bob
    if permission != "owner":
        share(document, bob, permission)
    first = document.pages.get(number=1)
    AudioFactory.create(page=first, voice="fake:beta", created_by=alice)  # made already
    html = html_of(person, f"/documents/{document.pk}/")
    assert f'action="/documents/{document.pk}/audios/"' in html
    assert "Make audio for every page" in html
    assert 'data-progress-url="/api/v1/documents/' in html

    browser = client_of(person)
    with run_tasks(execute=True):
        response = browser.post(f"/documents/{document.pk}/audios/", {"voice": "fake:beta"})

    assert response.status_code == 302
    assert response["Location"] == f"/documents/{document.pk}/?voice=fake%3Abeta#whole-audio"
    made = Audio.objects.filter(page__document=document, voice="fake:beta")
    assert made.count() == 3
    assert set(made.values_list("status", flat=True)) == {Audio.Status.COMPLETED}
    # One "generate" entry a page asked for, as the API's bulk creation writes.
    entries = AccessLog.objects.filter(user=person, action="generate", outcome="success")
    assert entries.count() == 2
    page = browser.get(response["Location"])
    assert "The audio of 2 pages is being made. 1 page already had audio in this voice." in (
        messages_of(page)
    )
    html = page.content.decode()
    assert '<option value="fake:beta" selected>Beta · Test tones</option>' in html
    assert '<optgroup label="English (GB)">' in section(html, "make-audio-voice")
    assert "Every page has audio in this voice." in html
    assert 'value="3" data-progress-bar' in html


def test_the_status_shows_pages_being_made_and_the_time_left(alice: User) -> None:
    document = document_with_pages(owner=alice, pages=3)
    for page in document.pages.all()[:2]:
        AudioFactory.create(page=page, voice="fake:alpha", status=Audio.Status.PENDING)

    html = html_of(alice, f"/documents/{document.pk}/?voice=fake:alpha")

    assert "0 of 3 pages made · estimating the time left" in html
    assert 'data-voice="fake:alpha" data-running' in html


def test_a_view_only_person_is_not_offered_audio_for_every_page_and_is_refused(
    alice: User, bob: User
) -> None:
    document = document_with_pages(owner=alice, pages=2)
    share(document, bob, "view_only")
    html = html_of(bob, f"/documents/{document.pk}/")
    assert f"/documents/{document.pk}/audios/" not in html
    assert "Make audio for every page" not in html

    response = client_of(bob).post(f"/documents/{document.pk}/audios/", {"voice": "fake:alpha"})

    assert response.status_code == 403
    assert not Audio.objects.exists()
    assert AccessLog.objects.filter(user=bob, action="generate", outcome="denied").count() == 1


def test_a_stranger_cannot_make_audio_for_a_document_they_cannot_see(
    alice: User, charlie: User
) -> None:
    document = document_with_pages(owner=alice, pages=2)

    response = client_of(charlie).post(f"/documents/{document.pk}/audios/", {"voice": "fake:alpha"})

    assert response.status_code == 404
    assert not Audio.objects.exists()


def test_an_unknown_voice_is_told_and_nothing_is_made(alice: User) -> None:
    document = document_with_pages(owner=alice, pages=2)

    response = client_of(alice).post(
        f"/documents/{document.pk}/audios/", {"voice": "fake:nobody"}, follow=True
    )

    assert response.status_code == 200
    assert "This voice is not available." in messages_of(response)
    assert not Audio.objects.exists()


def test_audio_for_every_page_shares_the_generate_rate_limit(
    alice: User, run_tasks: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "generate", "1/hour")
    document = document_with_pages(owner=alice, pages=2)
    client = client_of(alice)
    with run_tasks(execute=True):
        client.post(f"/documents/{document.pk}/audios/", {"voice": "fake:alpha"})
    assert Audio.objects.count() == 2

    refused = client.post(f"/documents/{document.pk}/audios/", {"voice": "fake:beta"}, follow=True)

    assert any("Too many requests" in message for message in messages_of(refused))
    assert Audio.objects.count() == 2


def test_a_finished_audiobook_is_offered_for_download_until_its_pages_audio_changes(
    alice: User,
) -> None:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from speech_processing import audiobooks
    from speech_processing.models import Audiobook

    document = document_with_pages(owner=alice, pages=2, title="Sea notes")
    for page in document.pages.all():
        AudioFactory.create(page=page, voice="fake:alpha", file_key=f"audio/{page.pk}.mp3")
    current = audiobooks.current_fingerprints(document=document, voices=["fake:alpha"])
    book = Audiobook.objects.create(
        document=document, voice="fake:alpha", status=Audiobook.Status.COMPLETED,
        file_key=default_storage.save("audiobooks/sea.m4b", ContentFile(b"\x00")),
        pages_done=2, pages_total=2, source_fingerprint=current["fake:alpha"],
    )  # fmt: skip

    html = html_of(alice, f"/documents/{document.pk}/")
    assert f'href="/api/v1/audiobooks/{book.pk}/download/" download="Sea notes.m4b"' in html
    listed = html[html.index(f'id="audiobook-{book.pk}"') :]
    assert "Alpha (English (US), Test tones)" in listed[: listed.index("</li>")]
    assert "Up to date with the pages' audio." in html
    assert 'id="audiobook-voice"' in html
    assert '<option value="fake:alpha"' not in section(html, "audiobook-voice")
    assert "Make the audiobook again" not in html

    Audio.objects.filter(page__document=document, page__number=2).update(
        lifetime_status=Audio.Lifetime.DELETED
    )
    AudioFactory.create(page=document.pages.get(number=2), voice="fake:alpha")

    html = html_of(alice, f"/documents/{document.pk}/")
    assert "The pages' audio changed since this audiobook was made." in html
    assert "Make the audiobook again" in html
    assert '<option value="fake:alpha"' in section(html, "audiobook-voice")


def section(html: str, select_id: str) -> str:
    """The options of one <select>."""
    start = html.index(f'id="{select_id}"')
    return html[start : html.index("</select>", start)]


def test_an_audiobook_being_made_shows_its_pages_made_now(alice: User) -> None:
    from speech_processing.models import Audiobook

    document = document_with_pages(owner=alice, pages=3)
    book = Audiobook.objects.create(
        document=document, voice="fake:alpha", created_by=alice, pages_total=3, pages_done=0
    )
    AudioFactory.create(page=document.pages.get(number=1), voice="fake:alpha")

    html = html_of(alice, f"/documents/{document.pk}/")

    assert f'data-audiobook-url="/api/v1/audiobooks/{book.pk}/"' in html
    assert "1 of 3 pages made · estimating the time left" in html
