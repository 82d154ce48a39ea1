"""Adding a page from the web on the document page: fetched by a worker, then shown there."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.test import Client
from rest_framework.throttling import SimpleRateThrottle

from document_processing.models import Document, PageImport
from document_processing.tests.factories import document_with_pages
from document_processing.tests.web_site import Site, running_site
from sharing.models import DocumentShare
from users.models import User

pytestmark = pytest.mark.django_db

Capture = Callable[..., AbstractContextManager[Any]]
FETCHING = "Fetching the page… It appears here when it is ready."


@pytest.fixture
def site(settings: Any) -> Iterator[Site]:
    with running_site(settings) as running:
        yield running


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def share(document: Document, person: User, permission: str) -> None:
    DocumentShare.objects.create(
        document=document, shared_with=person, permission=permission, shared_by=document.owner
    )


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def add_url(document: Document) -> str:
    return f"/documents/{document.pk}/pages/add/"


def test_a_collaborator_adds_a_page_from_the_web_and_sees_it_arrive(
    site: Site, alice: User, bob: User, django_capture_on_commit_callbacks: Capture
) -> None:
    document = document_with_pages(owner=alice, pages=1)
    share(document, bob, "collaborator")
    client = client_of(bob)
    page = client.get(f"/documents/{document.pk}/").content.decode()
    # With JavaScript the form calls the API, which answers at once; the list is then refreshed.
    assert f'action="/documents/{document.pk}/pages/add/"' in page
    assert f'data-api-url="/api/v1/documents/{document.pk}/pages/"' in page
    assert 'data-refresh="page-imports"' in page
    assert '<div id="page-imports">' in page

    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(add_url(document), {"url": f"{site.url}/article"}, follow=True)
    assert response.redirect_chain == [(f"/documents/{document.pk}/", 302)]
    assert messages_of(response) == [FETCHING]
    assert site.connections == 0  # nothing was fetched while the form was answered
    page_import = PageImport.objects.get()
    html = response.content.decode()
    # The row is watched through the API until the worker is done, then refreshed.
    assert f'data-watch="/api/v1/page-imports/{page_import.pk}/"' in html
    assert f'data-refresh="page-import-{page_import.pk} document-status document-pages"' in html
    assert "Fetching</span>" in html

    for callback in queued:
        callback()
    html = client.get(f"/documents/{document.pk}/").content.decode()
    added = document.pages.get(number=2)
    assert f'href="/pages/{added.pk}/"' in html
    assert "Added</span>" in html
    assert "data-watch" not in html.split('id="page-imports"')[1]
    assert "2 pages" in html


def test_a_page_that_could_not_be_added_says_why(
    site: Site, alice: User, django_capture_on_commit_callbacks: Capture
) -> None:
    document = document_with_pages(owner=alice, pages=1)
    client = client_of(alice)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(add_url(document), {"url": f"{site.url}/paper.pdf"})
    html = client.get(f"/documents/{document.pk}/").content.decode()
    assert "Not added</span>" in html
    assert "This link points to a PDF file, not a web page." in html
    assert document.pages.count() == 1


def test_a_bad_address_is_refused_with_a_message(alice: User) -> None:
    document = document_with_pages(owner=alice, pages=1)
    response = client_of(alice).post(add_url(document), {"url": "http://10.0.0.1/"}, follow=True)
    assert messages_of(response) == [
        "That link points to a private or local network address, so it can't be imported."
    ]
    assert not PageImport.objects.exists()


def test_only_people_who_may_edit_pages_are_offered_the_form_and_may_post_it(
    site: Site, alice: User, bob: User, charlie: User, django_capture_on_commit_callbacks: Capture
) -> None:
    document = document_with_pages(owner=alice, pages=1)
    share(document, bob, "view_only")
    as_viewer = client_of(bob).get(f"/documents/{document.pk}/").content.decode()
    assert add_url(document) not in as_viewer
    assert 'id="add-page-url"' not in as_viewer
    with django_capture_on_commit_callbacks(execute=True):
        body = {"url": f"{site.url}/article"}
        assert client_of(bob).post(add_url(document), body).status_code == 403
        assert client_of(charlie).post(add_url(document), body).status_code == 404
        assert Client().post(add_url(document), body).status_code == 302  # to log in
    assert site.connections == 0
    assert not PageImport.objects.exists()


def test_a_document_being_processed_offers_no_form(alice: User) -> None:
    document = document_with_pages(owner=alice, pages=0, status=Document.Status.PROCESSING)
    html = client_of(alice).get(f"/documents/{document.pk}/").content.decode()
    assert 'id="add-page-url"' not in html


def test_the_form_shares_the_url_import_allowance(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "upload", "1/hour")
    document = document_with_pages(owner=alice, pages=1)
    client = client_of(alice)
    client.post("/library/import/", {"url": "https://example.com/a"}, follow=True)
    response = client.post(add_url(document), {"url": "https://example.com/b"}, follow=True)
    # How long to wait, in words.
    assert messages_of(response) == ["Too many requests. Try again in about an hour."]
    assert not PageImport.objects.exists()


def test_refused_addresses_do_not_spend_the_url_import_allowance(
    alice: User, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Capture
) -> None:
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "upload", "1/hour")
    document = document_with_pages(owner=alice, pages=1)
    client = client_of(alice)
    for address in ("http://10.0.0.1/", "ftp://example.com/a", "http://localhost/"):
        refused = client.post(add_url(document), {"url": address}, follow=True)
        assert "Too many requests" not in " ".join(messages_of(refused))
    with django_capture_on_commit_callbacks(execute=False):
        accepted = client.post(add_url(document), {"url": "https://example.com/b"}, follow=True)
    assert messages_of(accepted) == [FETCHING]
    assert PageImport.objects.count() == 1
