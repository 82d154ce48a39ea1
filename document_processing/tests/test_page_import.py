"""Adding a page from a web address: checked in the request, fetched by a worker, recoverable."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from document_processing import page_imports, services, tasks
from document_processing.api import UploadThrottle
from document_processing.extractors import forkserver
from document_processing.models import Document, Page, PageImport
from document_processing.tests.extractors.served import forked_since, server_children
from document_processing.tests.factories import DocumentFactory, document_with_pages
from document_processing.tests.web_site import Site, running_site
from sharing.models import DocumentShare
from users.models import User

pytestmark = pytest.mark.django_db

Capture = Callable[..., AbstractContextManager[Any]]


@pytest.fixture
def site(settings: Any) -> Iterator[Site]:
    with running_site(settings) as running:
        yield running


def pages_url(document: Document) -> str:
    return f"/api/v1/documents/{document.pk}/pages/"


def share(document: Document, person: User, permission: str) -> None:
    DocumentShare.objects.create(
        document=document, shared_with=person, permission=permission, shared_by=document.owner
    )


def markdown_of(document: Document) -> list[str]:
    return list(document.pages.order_by("number").values_list("markdown", flat=True))


# --- The request ------------------------------------------------------------------------------


def test_the_request_answers_202_and_a_worker_fetches_the_page(
    site: Site, alice: User, alice_client: APIClient, django_capture_on_commit_callbacks: Capture
) -> None:
    document = document_with_pages(owner=alice, pages=1)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = alice_client.post(
            pages_url(document), {"url": f"{site.url}/article"}, format="json"
        )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "pending"
    assert body["document"] == document.pk
    assert body["page"] is None
    assert response["Location"] == f"/api/v1/page-imports/{body['id']}/"
    # Nothing was fetched while the request was served.
    assert site.connections == 0
    assert document.pages.count() == 1

    for callback in queued:  # the worker's turn
        callback()
    assert site.connections == 1
    followed = alice_client.get(response["Location"])
    assert followed.status_code == 200
    assert followed.json()["status"] == "completed", followed.json()
    assert followed.json()["error_message"] == ""
    page = Page.objects.get(pk=followed.json()["page"])
    assert (page.document_id, page.number) == (document.pk, 2)
    assert "Great Pyramid" in page.markdown
    assert followed.json()["page_count"] == 1
    assert followed.json()["title"] == page.title
    document.refresh_from_db()
    assert document.page_count == 2
    assert document.char_count == sum(document.pages.values_list("char_count", flat=True))


def test_a_worker_has_the_fetched_page_read_by_its_fork_server(
    site: Site, alice: User, fork_server: forkserver._Client
) -> None:
    document = document_with_pages(owner=alice, pages=1)
    page_import = page_imports.start_page_import(
        user=alice, document=document, url=f"{site.url}/article"
    )
    before = server_children(fork_server)
    page_imports.import_page(page_import_id=page_import.pk)

    assert forked_since(fork_server, before)  # the spare read it; another is forked
    page_import.refresh_from_db()
    assert page_import.status == PageImport.Status.COMPLETED, page_import.error_message
    assert "Great Pyramid" in document.pages.get(number=2).markdown


def test_markdown_is_still_appended_at_once(alice: User, alice_client: APIClient) -> None:
    document = document_with_pages(owner=alice, pages=1)
    response = alice_client.post(pages_url(document), {"markdown": "# Two\n\nMore."})
    assert response.status_code == 201
    assert response.json()["number"] == 2
    assert not PageImport.objects.exists()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.com/a", "http or https"),
        ("http://10.0.0.1/a", "private or local network"),
        ("http://localhost/a", "private or local network"),
        ("http://user:pw@example.com/", "user name"),
    ],
)
def test_a_web_address_of_the_wrong_shape_is_refused_in_the_request(
    alice: User, alice_client: APIClient, url: str, words: str
) -> None:
    document = document_with_pages(owner=alice, pages=1)
    response = alice_client.post(pages_url(document), {"url": url}, format="json")
    assert response.status_code == 400
    assert words in response.json()["error"]["fields"]["url"][0]
    assert not PageImport.objects.exists()


def test_only_a_processed_document_takes_new_pages(alice: User, alice_client: APIClient) -> None:
    document = DocumentFactory.create(owner=alice, status=Document.Status.PROCESSING)
    response = alice_client.post(
        pages_url(document), {"url": "https://example.com/a"}, format="json"
    )
    assert response.status_code == 409
    assert not PageImport.objects.exists()


def test_access_is_checked_first(
    site: Site,
    alice: User,
    bob: User,
    bob_client: APIClient,
    charlie_client: APIClient,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    document = document_with_pages(owner=alice, pages=1)
    body = {"url": f"{site.url}/article"}
    with django_capture_on_commit_callbacks(execute=True):
        assert charlie_client.post(pages_url(document), body, format="json").status_code == 404
        share(document, bob, "view_only")
        refused = bob_client.post(pages_url(document), body, format="json")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "permission_denied"
    assert site.connections == 0
    assert not PageImport.objects.exists()

    DocumentShare.objects.filter(shared_with=bob).update(permission="collaborator")
    with django_capture_on_commit_callbacks(execute=True):
        accepted = bob_client.post(pages_url(document), body, format="json")
    assert accepted.status_code == 202
    assert PageImport.objects.get().requested_by == bob
    assert document.pages.count() == 2
    # Following the import is for people who may see the document.
    location = accepted["Location"]
    assert bob_client.get(location).status_code == 200
    assert charlie_client.get(location).status_code == 404


def test_adding_pages_by_url_shares_the_url_import_allowance(
    alice: User, alice_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(UploadThrottle, "rate", "2/hour", raising=False)
    document = document_with_pages(owner=alice, pages=1)
    assert (
        alice_client.post(
            "/api/v1/documents/", {"url": "https://example.com/a"}, format="json"
        ).status_code
        == 202
    )
    url = {"url": "https://example.com/b"}
    assert alice_client.post(pages_url(document), url, format="json").status_code == 202
    refused = alice_client.post(pages_url(document), url, format="json")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused["Retry-After"]) > 0
    assert PageImport.objects.count() == 1
    # Writing a page needs no fetch, and is not held to that allowance.
    written = alice_client.post(pages_url(document), {"markdown": "Two."}, format="json")
    assert written.status_code == 201


# --- The worker -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/paper.pdf", "PDF"),
        ("/missing", "404"),
        ("/huge", "too large"),
    ],
)
def test_a_page_that_cannot_be_added_fails_with_a_message(
    site: Site,
    alice: User,
    alice_client: APIClient,
    django_capture_on_commit_callbacks: Capture,
    path: str,
    words: str,
) -> None:
    document = document_with_pages(owner=alice, pages=1)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(pages_url(document), {"url": site.url + path}, format="json")
    assert response.status_code == 202
    followed = alice_client.get(response["Location"]).json()
    assert followed["status"] == "failed"
    assert words.lower() in followed["error_message"].lower(), followed
    assert followed["page"] is None
    assert document.pages.count() == 1


def test_an_unreachable_site_fails_with_a_message(
    site: Site, alice: User, django_capture_on_commit_callbacks: Capture
) -> None:
    document = document_with_pages(owner=alice, pages=1)
    site.server.server_close()  # the port is closed: connections are refused
    with django_capture_on_commit_callbacks(execute=True):
        page_import = page_imports.start_page_import(
            user=alice, document=document, url=f"{site.url}/article"
        )
    page_import.refresh_from_db()
    assert page_import.status == PageImport.Status.FAILED
    assert page_import.error_message == "We couldn't connect to the site."


def test_running_the_task_twice_adds_the_page_once(
    site: Site, alice: User, django_capture_on_commit_callbacks: Capture
) -> None:
    document = document_with_pages(owner=alice, pages=1)
    with django_capture_on_commit_callbacks(execute=True):
        page_import = page_imports.start_page_import(
            user=alice, document=document, url=f"{site.url}/article"
        )
    tasks.import_page_task(page_import.pk)
    page_imports.import_page(page_import_id=page_import.pk, redelivered=True)
    assert document.pages.count() == 2
    assert site.connections == 1


def test_a_duplicate_message_leaves_a_running_import_alone(site: Site, alice: User) -> None:
    document = document_with_pages(owner=alice, pages=1)
    page_import = PageImport.objects.create(
        document=document, requested_by=alice, url=f"{site.url}/article",
        status=PageImport.Status.PROCESSING, attempts=1, processing_started_at=timezone.now(),
    )  # fmt: skip
    page_imports.import_page(page_import_id=page_import.pk)
    page_import.refresh_from_db()
    assert (page_import.status, page_import.attempts) == (PageImport.Status.PROCESSING, 1)
    assert site.connections == 0
    # The broker's redelivery after its worker died takes the claim over.
    page_imports.import_page(page_import_id=page_import.pk, redelivered=True)
    page_import.refresh_from_db()
    assert (page_import.status, page_import.attempts) == (PageImport.Status.COMPLETED, 2)
    assert document.pages.count() == 2


def test_a_document_processed_again_meanwhile_gets_no_page(
    site: Site, alice: User, django_capture_on_commit_callbacks: Capture
) -> None:
    document = document_with_pages(owner=alice, pages=1)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        page_import = page_imports.start_page_import(
            user=alice, document=document, url=f"{site.url}/article"
        )
    Document.objects.filter(pk=document.pk).update(status=Document.Status.PROCESSING)
    for callback in queued:
        callback()
    page_import.refresh_from_db()
    assert page_import.status == PageImport.Status.FAILED
    assert "processed again" in page_import.error_message
    assert document.pages.count() == 1


def test_a_document_deleted_meanwhile_takes_its_imports_along(
    site: Site, alice: User, django_capture_on_commit_callbacks: Capture
) -> None:
    document = document_with_pages(owner=alice, pages=1)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        page_imports.start_page_import(user=alice, document=document, url=f"{site.url}/article")
    services.delete_document(user=alice, document=document)
    for callback in queued:
        callback()
    assert not PageImport.objects.exists()
    assert not Page.objects.exists()


def test_a_full_document_takes_no_more_pages(
    site: Site, alice: User, settings: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    document = document_with_pages(owner=alice, pages=2)
    settings.DOCUMENT_MAX_PAGES = 3
    with django_capture_on_commit_callbacks(execute=False) as queued:
        first = page_imports.start_page_import(
            user=alice, document=document, url=f"{site.url}/article"
        )
        second = page_imports.start_page_import(
            user=alice, document=document, url=f"{site.url}/article"
        )
    for callback in queued:
        callback()
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == PageImport.Status.COMPLETED
    assert second.status == PageImport.Status.FAILED
    assert "most pages allowed" in second.error_message
    assert document.pages.count() == 3


# --- Lost work --------------------------------------------------------------------------------


def later(seconds: float) -> Any:
    return timezone.now() + timedelta(seconds=seconds)


def stuck_import(site: Site, owner: User, **fields: Any) -> PageImport:
    document = document_with_pages(owner=owner, pages=1)
    return PageImport.objects.create(
        document=document, requested_by=owner, url=f"{site.url}/article", **fields
    )


def test_an_import_whose_worker_died_is_fetched_again(
    site: Site, alice: User, settings: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    page_import = stuck_import(site, alice, status=PageImport.Status.PROCESSING, attempts=1,
                               processing_started_at=timezone.now())  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        result = page_imports.sweep_stuck_page_imports(
            now=later(settings.CELERY_TASK_TIME_LIMIT + 120)
        )
    assert result == {"failed": 0, "requeued": 1}
    page_import.refresh_from_db()
    assert (page_import.status, page_import.attempts) == (PageImport.Status.COMPLETED, 2)


def test_an_import_interrupted_too_often_fails_clearly(
    site: Site, alice: User, settings: Any
) -> None:
    page_import = stuck_import(site, alice, status=PageImport.Status.PROCESSING,
                               attempts=settings.MAX_EXTRACTION_ATTEMPTS,
                               processing_started_at=timezone.now())  # fmt: skip
    result = page_imports.sweep_stuck_page_imports(now=later(settings.CELERY_TASK_TIME_LIMIT + 120))
    assert result["failed"] == 1
    page_import.refresh_from_db()
    assert page_import.status == PageImport.Status.FAILED
    assert page_import.error_message == "Fetching this page was interrupted too many times."


def test_a_lost_import_message_is_sent_again(
    site: Site, alice: User, settings: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    page_import = stuck_import(site, alice)
    with django_capture_on_commit_callbacks(execute=False) as recent:
        assert page_imports.sweep_stuck_page_imports(now=later(60)) == {"failed": 0, "requeued": 0}
    assert recent == []
    with django_capture_on_commit_callbacks(execute=True):
        page_imports.sweep_stuck_page_imports(now=later(settings.STUCK_PENDING_SECONDS + 1))
    page_import.refresh_from_db()
    assert page_import.status == PageImport.Status.COMPLETED


def test_the_scheduled_sweep_recovers_page_imports_too(
    site: Site, alice: User, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stuck_import(site, alice, status=PageImport.Status.PROCESSING,
                 attempts=settings.MAX_EXTRACTION_ATTEMPTS,
                 processing_started_at=timezone.now() - timedelta(days=1))  # fmt: skip
    result = tasks.sweep_stuck_documents_task()
    assert result["page_imports_failed"] == 1
    assert result["failed"] == 0
