"""The access policy: the check of one object, and shares whose granter no longer has access."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from document_processing.models import Document
from document_processing.tests.factories import DocumentFactory, document_with_pages
from sharing.models import DocumentShare
from sharing.policy import (
    Permission,
    granter_has_access,
    permission_for,
    permitted,
    with_granter_access,
)
from speech_processing.tests.factories import AudioFactory
from users.models import User
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("granter_now", "expected"),
    [
        ("owner", True),
        ("can_share", True),
        ("collaborator", False),
        ("view_only", False),
        ("no share", False),
        ("inactive", False),
        ("deleted", False),
    ],
)
def test_a_granter_has_access_while_they_may_still_share(
    alice: User, bob: User, granter_now: str, expected: bool
) -> None:
    document = DocumentFactory.create(owner=alice)
    dave = UserFactory.create(email="dave@example.com")
    granter = alice if granter_now == "owner" else bob
    if granter_now in {"can_share", "collaborator", "view_only", "inactive", "deleted"}:
        level = "can_share" if granter_now in {"inactive", "deleted"} else granter_now
        DocumentShare.objects.create(
            document=document, shared_with=bob, permission=level, shared_by=alice
        )
    if granter_now == "inactive":
        bob.is_active = False
        bob.save(update_fields=["is_active"])
    daves = DocumentShare.objects.create(
        document=document, shared_with=dave, permission="view_only", shared_by=granter
    )
    if granter_now == "deleted":
        DocumentShare.objects.filter(pk=daves.pk).update(shared_by=None)

    annotated = with_granter_access(DocumentShare.objects.filter(pk=daves.pk)).get()
    assert annotated.granter_has_access is expected  # type: ignore[attr-defined]
    assert granter_has_access(annotated) is expected
    # Without the annotation the same rule is asked of the database.
    assert granter_has_access(DocumentShare.objects.get(pk=daves.pk)) is expected


def test_a_share_on_another_document_does_not_count(alice: User, bob: User) -> None:
    document = DocumentFactory.create(owner=alice)
    other = DocumentFactory.create(owner=alice)
    DocumentShare.objects.create(
        document=other, shared_with=bob, permission="can_share", shared_by=alice
    )
    daves = DocumentShare.objects.create(
        document=document, shared_with=UserFactory.create(), permission="view_only", shared_by=bob
    )
    assert granter_has_access(daves) is False


# --- The access check of one object -------------------------------------------------------------


@pytest.mark.parametrize(
    ("caller", "expected", "queries"),
    [("owner", "owner", 0), ("viewer", "view_only", 1), ("stranger", None, 1)],
)
def test_one_object_costs_at_most_one_share_lookup(
    alice: User,
    bob: User,
    caller: str,
    expected: str | None,
    queries: int,
    django_assert_num_queries: Any,
) -> None:
    document = DocumentFactory.create(owner=alice)
    DocumentShare.objects.create(
        document=document, shared_with=bob, permission="view_only", shared_by=alice
    )
    user = {"owner": alice, "viewer": bob, "stranger": UserFactory.create()}[caller]

    fetched = Document.objects.get(pk=document.pk)

    with django_assert_num_queries(queries):
        found = permitted(user, fetched)

    if expected is None:
        assert found is None
    else:
        assert found is fetched
        assert permission_for(user, fetched) == Permission(expected)
    assert permitted(AnonymousUser(), fetched) is None  # type: ignore[arg-type]
    assert permitted(alice, None) is None


def test_reads_of_one_object_check_access_without_building_the_visible_set(
    alice: User, bob: User, django_assert_max_num_queries: Any
) -> None:
    document = document_with_pages(owner=alice, pages=2)
    DocumentShare.objects.create(
        document=document, shared_with=bob, permission="view_only", shared_by=alice
    )
    page = document.pages.get(number=1)
    audio = AudioFactory.create(page=page, created_by=alice)
    client = APIClient()
    client.force_authenticate(bob)

    for path in (
        f"/api/v1/audios/{audio.pk}/",
        f"/api/v1/pages/{page.pk}/",
        f"/api/v1/documents/{document.pk}/",
    ):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(path).status_code == 200
        sql = " ".join(q["sql"] for q in queries.captured_queries)
        # The object, one share lookup, and what the answer itself needs; never the policy's
        # "visible documents" subquery.
        assert "IN (SELECT" not in sql.upper(), path
        assert len(queries.captured_queries) <= 5, (path, sql)


# What each read a listener's player makes costs with an API token: the token, the object (with
# its document), one share lookup for anyone but the owner, and what the answer itself needs.
HOT_READS = {
    "audio status": ("/api/v1/audios/{audio}/", 2),
    "audio timings": ("/api/v1/audios/{audio}/timings/", 2),
    "page": ("/api/v1/pages/{page}/", 3),  # and its neighbours
    "progress": ("/api/v1/documents/{document}/progress/", 3),  # and the caller's place
    # and the pages, their audio and (for a caller who may generate) the quota used
    "playlist": ("/api/v1/documents/{document}/playlist/", 5),
}


@pytest.mark.parametrize("read", list(HOT_READS))
@pytest.mark.parametrize("caller", ["owner", "viewer"])
def test_the_reads_a_player_makes_cost_a_fixed_small_number_of_queries(
    alice: User, bob: User, read: str, caller: str
) -> None:
    from rest_framework.authtoken.models import Token

    document = document_with_pages(owner=alice, pages=3)
    DocumentShare.objects.create(
        document=document, shared_with=bob, permission="view_only", shared_by=alice
    )
    page = document.pages.get(number=1)
    audio = AudioFactory.create(page=page, created_by=alice, status="completed", timings=[])
    user = alice if caller == "owner" else bob
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    template, owner_queries = HOT_READS[read]
    path = template.format(audio=audio.pk, page=page.pk, document=document.pk)
    # The viewer pays one share lookup; a view-only caller's playlist counts no quota.
    expected = owner_queries + (1 if caller == "viewer" else 0)
    if read == "playlist" and caller == "viewer":
        expected -= 1

    # The first request compiles the queries and reads the site settings into the cache.
    assert client.get(path).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, response.content
    sql = [query["sql"] for query in queries.captured_queries]
    assert len(sql) == expected, sql
    assert not any("IN (SELECT" in statement.upper() for statement in sql), sql
