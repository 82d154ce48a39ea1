"""Sharing walked through by alice (owner), bob (shared with) and charlie (a stranger)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import client_for
from document_processing.models import Document
from document_processing.tests.factories import DocumentFactory, document_with_pages
from sharing.api import ShareThrottle
from sharing.invitations import accept_invitations
from sharing.models import AccessLog, DocumentShare, ShareInvitation
from users.models import User
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def share(client: APIClient, document: Document, email: str, permission: str, capture: Any) -> Any:
    with capture(execute=True):
        return client.post(
            f"/api/v1/documents/{document.pk}/shares/", {"email": email, "permission": permission}
        )


def test_alice_shares_with_bob_changes_and_removes_it(
    alice: User, bob: User, charlie: User, alice_client: APIClient, bob_client: APIClient,
    charlie_client: APIClient, django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    document = document_with_pages(owner=alice, pages=1, title="Field notes & <drafts>")
    assert bob_client.get(f"/api/v1/documents/{document.pk}/").status_code == 404

    created = share(alice_client, document, "BOB@example.com", "view_only",
                    django_capture_on_commit_callbacks)  # fmt: skip
    assert created.status_code == 201
    invited = created.json()
    assert (invited["status"], invited["email"], invited["permission"]) == (
        "invited", "bob@example.com", "view_only",
    )  # fmt: skip
    assert invited["invited_by"] == {"id": alice.pk, "email": alice.email}
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [bob.email]
    assert mail.outbox[0].subject == '"Field notes & <drafts>" was shared with you on Pagecast'
    assert "Field notes & <drafts>" in mail.outbox[0].body
    assert f"/documents/{document.pk}/join/" in mail.outbox[0].body
    # Bob has access once he accepts: signing in with his confirmed address does it.
    assert bob_client.get(f"/api/v1/documents/{document.pk}/").status_code == 404
    Client().force_login(bob)
    body = alice_client.get(f"/api/v1/documents/{document.pk}/shares/").json()[0]
    assert body["shared_with"] == {"id": bob.pk, "email": bob.email}
    assert body["shared_by"] == {"id": alice.pk, "email": alice.email}
    assert body["permission"] == "view_only"

    seen = bob_client.get(f"/api/v1/documents/{document.pk}/").json()
    assert seen["permission"] == "view_only"
    shared = bob_client.get("/api/v1/shared-with-me/").json()
    assert shared["count"] == 1
    assert shared["results"][0]["shared_by"] == {"id": alice.pk, "email": alice.email}
    assert shared["results"][0]["permission"] == "view_only"
    page_id = seen["pages"][0]["id"]
    assert bob_client.post(f"/api/v1/pages/{page_id}/audios/", {}).status_code == 403
    assert charlie_client.get(f"/api/v1/documents/{document.pk}/").status_code == 404

    again = share(alice_client, document, bob.email, "collaborator",
                  django_capture_on_commit_callbacks)  # fmt: skip
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    assert len(mail.outbox) == 1  # changing a share sends no email
    assert bob_client.post(f"/api/v1/pages/{page_id}/audios/", {}).status_code == 202

    changed = alice_client.patch(f"/api/v1/shares/{body['id']}/", {"permission": "can_share"})
    assert changed.status_code == 200
    assert changed.json()["permission"] == "can_share"
    assert bob_client.get(f"/api/v1/documents/{document.pk}/shares/").status_code == 200

    assert alice_client.delete(f"/api/v1/shares/{body['id']}/").status_code == 204
    assert bob_client.get(f"/api/v1/documents/{document.pk}/").status_code == 404
    assert bob_client.get("/api/v1/shared-with-me/").json()["count"] == 0
    assert len(mail.outbox) == 1
    actions = list(
        AccessLog.objects.filter(document=document)
        .order_by("id")
        .values_list("action", "outcome", "user__email")
    )
    assert actions == [
        ("invite", "success", alice.email),
        ("invite_accept", "success", bob.email),
        ("generate", "denied", bob.email),
        ("share", "success", alice.email),
        ("generate", "success", bob.email),
        ("permission_change", "success", alice.email),
        ("unshare", "success", alice.email),
    ]


def test_a_person_may_leave_a_document(alice: User, bob: User, bob_client: APIClient) -> None:
    document = DocumentFactory.create(owner=alice)
    entry = DocumentShare.objects.create(
        document=document, shared_with=bob, permission="view_only", shared_by=alice
    )
    assert bob_client.delete(f"/api/v1/shares/{entry.pk}/").status_code == 204
    assert not DocumentShare.objects.exists()


@pytest.mark.parametrize(
    ("email", "permission", "status", "field"),
    [
        ("alice@example.com", "view_only", 400, "email"),  # yourself
        ("bob@example.com", "owner", 400, "permission"),
        ("bob@example.com", "admin", 400, "permission"),
        ("not-an-email", "view_only", 400, "email"),
        ("", "view_only", 400, "email"),
    ],
)
def test_bad_shares(
    alice: User, bob: User, alice_client: APIClient,
    email: str, permission: str, status: int, field: str,
) -> None:  # fmt: skip
    document = DocumentFactory.create(owner=alice)
    response = alice_client.post(
        f"/api/v1/documents/{document.pk}/shares/", {"email": email, "permission": permission}
    )
    assert response.status_code == status
    assert field in response.json()["error"]["fields"]
    assert not DocumentShare.objects.exists()
    assert not ShareInvitation.objects.exists()


def test_sharing_with_the_owner_is_400(alice: User, bob: User, bob_client: APIClient) -> None:
    document = DocumentFactory.create(owner=alice)
    DocumentShare.objects.create(document=document, shared_with=bob, permission="can_share")
    response = bob_client.post(
        f"/api/v1/documents/{document.pk}/shares/",
        {"email": alice.email, "permission": "view_only"},
    )
    assert response.status_code == 400
    assert "email" in response.json()["error"]["fields"]


def test_share_attempts_are_rate_limited(
    alice: User, alice_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ShareThrottle, "rate", "2/hour", raising=False)
    document = DocumentFactory.create(owner=alice)
    for n in range(2):
        alice_client.post(
            f"/api/v1/documents/{document.pk}/shares/",
            {"email": f"guess{n}@example.com", "permission": "view_only"},
        )
    response = alice_client.post(
        f"/api/v1/documents/{document.pk}/shares/",
        {"email": "x@example.com", "permission": "view_only"},
    )
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert ShareInvitation.objects.count() == 2  # invitations count as shares do


def test_scope_filter_on_the_document_list(alice: User, bob: User, alice_client: APIClient) -> None:
    mine = DocumentFactory.create(owner=alice, title="Mine")
    theirs = DocumentFactory.create(owner=bob, title="Theirs")
    DocumentShare.objects.create(document=theirs, shared_with=alice, permission="view_only")
    DocumentFactory.create(owner=bob, title="Private")

    def titles(scope: str | None) -> list[str]:
        query = {"scope": scope} if scope else {}
        return sorted(
            d["title"] for d in alice_client.get("/api/v1/documents/", query).json()["results"]
        )

    assert titles(None) == ["Mine", "Theirs"]
    assert titles("all") == ["Mine", "Theirs"]
    assert titles("owned") == ["Mine"]
    assert titles("shared") == ["Theirs"]
    assert alice_client.get("/api/v1/documents/", {"scope": "everything"}).status_code == 400
    permissions = {
        d["title"]: d["permission"]
        for d in alice_client.get("/api/v1/documents/").json()["results"]
    }
    assert permissions == {"Mine": "owner", "Theirs": "view_only"}
    assert mine.pk


@pytest.mark.parametrize("path", ["/api/v1/documents/", "/api/v1/shared-with-me/"])
def test_list_query_counts_are_constant(bob: User, bob_client: APIClient, path: str) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert bob_client.get(path).status_code == 200
        return len(queries)

    def add_shared(n: int) -> None:
        for _ in range(n):
            owner = UserFactory.create()
            document = document_with_pages(owner=owner, pages=2)
            DocumentShare.objects.create(
                document=document, shared_with=bob, permission="collaborator", shared_by=owner
            )
            DocumentFactory.create(owner=bob)

    add_shared(2)
    small = count()
    add_shared(25)
    assert count() == small <= 3


def test_activity_lists_newest_first_with_the_client(
    alice: User, bob: User, alice_client: APIClient, bob_client: APIClient, settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    settings.TRUSTED_CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    document = document_with_pages(owner=alice, pages=1)
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(
            f"/api/v1/documents/{document.pk}/shares/",
            {"email": bob.email, "permission": "view_only"},
            HTTP_X_FORWARDED_FOR="203.0.113.9, 10.0.0.1",
            HTTP_USER_AGENT="Agent/" + "x" * 500,
        )
    accept_invitations(user=bob)
    page_id = document.pages.get().pk
    bob_client.post(f"/api/v1/pages/{page_id}/audios/", {})  # denied: view_only
    response = alice_client.get(f"/api/v1/documents/{document.pk}/activity/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["action"], r["outcome"], r["user"]["email"]) for r in results] == [
        ("generate", "denied", bob.email),
        ("invite", "success", alice.email),
    ]
    entry = AccessLog.objects.get(action="invite")
    assert entry.client_ip == "203.0.113.9"
    assert len(entry.user_agent) == 300
    assert bob_client.get(f"/api/v1/documents/{document.pk}/activity/").status_code == 403


def test_the_client_address_header_is_ignored_unless_trusted(
    alice: User, bob: User, alice_client: APIClient
) -> None:
    document = DocumentFactory.create(owner=alice)
    alice_client.post(
        f"/api/v1/documents/{document.pk}/shares/",
        {"email": bob.email, "permission": "view_only"},
        HTTP_X_FORWARDED_FOR="198.51.100.1",
    )
    assert AccessLog.objects.get().client_ip == "127.0.0.1"


def test_a_failing_audit_write_never_fails_the_request(
    alice: User, bob: User, alice_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("audit table locked")

    monkeypatch.setattr(AccessLog.objects, "create", broken)
    document = DocumentFactory.create(owner=alice)
    response = alice_client.post(
        f"/api/v1/documents/{document.pk}/shares/", {"email": bob.email, "permission": "view_only"}
    )
    assert response.status_code == 201


# --- Invitations (sharing/invitations.py) -------------------------------------------------------


def test_an_address_with_an_account_and_one_without_get_the_same_answer(
    alice: User, bob: User, alice_client: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    document = DocumentFactory.create(owner=alice)
    answers = [
        share(alice_client, document, email, "view_only", django_capture_on_commit_callbacks)
        for email in (bob.email, "nobody@example.com")
    ]
    assert [answer.status_code for answer in answers] == [201, 201]
    with_account, without = (answer.json() for answer in answers)
    assert set(with_account) == set(without) == {
        "id", "status", "document", "email", "permission", "invited_by", "created_at",
        "expires_at",
    }  # fmt: skip
    varying = {"id", "email", "created_at", "expires_at"}
    assert {k: v for k, v in with_account.items() if k not in varying} == {
        k: v for k, v in without.items() if k not in varying
    }
    assert with_account["status"] == "invited"
    assert [answer["Content-Type"] for answer in answers] == ["application/json"] * 2
    assert [message.to for message in mail.outbox] == [[bob.email], ["nobody@example.com"]]
    # The list of invitations, and of shares, cannot tell them apart either.
    listed = alice_client.get(f"/api/v1/documents/{document.pk}/invitations/").json()
    assert [entry["email"] for entry in listed] == [bob.email, "nobody@example.com"]
    assert set(listed[0]) == set(listed[1])
    assert alice_client.get(f"/api/v1/documents/{document.pk}/shares/").json() == []
    actions = list(AccessLog.objects.order_by("id").values_list("action", "outcome", "details"))
    assert actions == [("invite", "success", {"permission": "view_only"})] * 2


def test_inviting_again_answers_the_same_invitation(
    alice: User, alice_client: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    document = DocumentFactory.create(owner=alice)
    first = share(alice_client, document, "new@example.com", "view_only",
                  django_capture_on_commit_callbacks)  # fmt: skip
    again = share(alice_client, document, "NEW@example.com", "collaborator",
                  django_capture_on_commit_callbacks)  # fmt: skip
    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["permission"] == "collaborator"
    assert ShareInvitation.objects.count() == 1


def test_withdrawing_an_invitation(
    alice: User, bob: User, alice_client: APIClient, bob_client: APIClient,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    document = DocumentFactory.create(owner=alice)
    DocumentShare.objects.create(
        document=document, shared_with=bob, permission="can_share", shared_by=alice
    )
    made = share(alice_client, document, "new@example.com", "view_only",
                 django_capture_on_commit_callbacks).json()  # fmt: skip
    url = f"/api/v1/invitations/{made['id']}/"
    refused = bob_client.delete(url)  # bob may share, but did not send it
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert alice_client.delete(url).status_code == 204
    assert alice_client.delete(url).status_code == 404
    assert alice_client.get(f"/api/v1/documents/{document.pk}/invitations/").json() == []
    assert list(
        AccessLog.objects.filter(action="invite_withdraw")
        .order_by("id")
        .values_list("user", "outcome")
    ) == [(bob.pk, "denied"), (alice.pk, "success")]
    # Nobody can accept it any more.
    newcomer = UserFactory.create(email="new@example.com")
    assert accept_invitations(user=newcomer) == []


def test_expired_invitations_are_not_listed(alice: User, alice_client: APIClient) -> None:
    document = DocumentFactory.create(owner=alice)
    for email, days in (("kept@example.com", 1), ("gone@example.com", -1)):
        ShareInvitation.objects.create(
            document=document, email=email, permission="view_only", invited_by=alice,
            expires_at=timezone.now() + timedelta(days=days),
        )  # fmt: skip
    listed = alice_client.get(f"/api/v1/documents/{document.pk}/invitations/").json()
    assert [entry["email"] for entry in listed] == ["kept@example.com"]


def test_listing_invitations_costs_the_same_for_2_and_20(
    alice: User, bob: User, alice_client: APIClient
) -> None:
    document = DocumentFactory.create(owner=alice)
    DocumentShare.objects.create(
        document=document, shared_with=bob, permission="can_share", shared_by=alice
    )

    def add(n: int) -> None:
        for _ in range(n):
            ShareInvitation.objects.create(
                document=document, email=f"{UserFactory.build().email}", permission="view_only",
                invited_by=(alice, bob)[ShareInvitation.objects.count() % 2],
                expires_at=timezone.now() + timedelta(days=3),
            )  # fmt: skip

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            response = alice_client.get(f"/api/v1/documents/{document.pk}/invitations/")
        assert response.status_code == 200
        return len(response.json()), len(queries)

    add(2)
    rows, few = count()
    add(18)
    assert count() == (20, few)
    assert rows == 2


# --- Shares outlive their granter's access (issue 18, point 10) -------------------------------


def shares_by_email(client: APIClient, document: Document) -> dict[str, Any]:
    response = client.get(f"/api/v1/documents/{document.pk}/shares/")
    assert response.status_code == 200
    return {entry["shared_with"]["email"]: entry for entry in response.json()}


def bob_shares_with_dave(
    alice: User, bob: User, bob_client: APIClient
) -> tuple[Document, User, DocumentShare]:
    document = DocumentFactory.create(owner=alice)
    bobs = DocumentShare.objects.create(
        document=document, shared_with=bob, permission="can_share", shared_by=alice
    )
    dave = UserFactory.create(email="dave@example.com")
    made = bob_client.post(
        f"/api/v1/documents/{document.pk}/shares/", {"email": dave.email, "permission": "view_only"}
    )
    assert made.status_code == 201
    assert made.json()["status"] == "invited"
    (daves,) = accept_invitations(user=dave)
    assert daves.shared_by == bob
    return document, dave, bobs


def test_a_share_stays_marked_when_its_granter_loses_access(
    alice: User, bob: User, alice_client: APIClient, bob_client: APIClient
) -> None:
    document, dave, bobs = bob_shares_with_dave(alice, bob, bob_client)
    before = shares_by_email(alice_client, document)
    assert before["dave@example.com"]["shared_by"] == {"id": bob.pk, "email": bob.email}
    assert before["dave@example.com"]["granter_has_access"] is True
    assert before["bob@example.com"]["granter_has_access"] is True

    assert alice_client.delete(f"/api/v1/shares/{bobs.pk}/").status_code == 204

    after = shares_by_email(alice_client, document)
    assert list(after) == ["dave@example.com"]
    daves = after["dave@example.com"]
    assert set(daves) == {
        "id", "document", "shared_with", "permission", "shared_by", "created_at",
        "granter_has_access",
    }  # fmt: skip
    assert daves["shared_by"] == {"id": bob.pk, "email": bob.email}
    assert daves["granter_has_access"] is False
    # Dave keeps his access: nothing vanished silently.
    assert client_for(dave).get(f"/api/v1/documents/{document.pk}/").status_code == 200


@pytest.mark.parametrize(
    ("query", "body"),
    [
        ("?cascade=true", None),
        ("?cascade=1", None),
        ("", {"cascade": True}),
        ("", {"cascade": "true"}),  # what the share dialog's checkbox sends
    ],
    ids=["query", "query-1", "json-body", "json-body-from-the-form"],
)
def test_removing_a_person_with_cascade_removes_the_shares_they_granted(
    alice: User, bob: User, alice_client: APIClient, bob_client: APIClient,
    query: str, body: dict[str, Any] | None,
) -> None:  # fmt: skip
    document, dave, bobs = bob_shares_with_dave(alice, bob, bob_client)
    # A share alice gave is not bob's, and stays.
    eve = UserFactory.create(email="eve@example.com")
    DocumentShare.objects.create(
        document=document, shared_with=eve, permission="view_only", shared_by=alice
    )
    response = alice_client.delete(f"/api/v1/shares/{bobs.pk}/{query}", body, format="json")
    assert response.status_code == 204
    assert list(shares_by_email(alice_client, document)) == ["eve@example.com"]
    assert client_for(dave).get(f"/api/v1/documents/{document.pk}/").status_code == 404
    removed = list(
        AccessLog.objects.filter(document=document, action="unshare")
        .order_by("id")
        .values_list("user__email", "outcome", "details")
    )
    assert removed == [
        (alice.email, "success", {"shared_with": bob.pk}),
        (alice.email, "success", {"shared_with": dave.pk, "granted_by": bob.pk}),
    ]


def test_removing_a_person_without_cascade_keeps_the_shares_they_granted(
    alice: User, bob: User, alice_client: APIClient, bob_client: APIClient
) -> None:
    document, dave, bobs = bob_shares_with_dave(alice, bob, bob_client)
    response = alice_client.delete(f"/api/v1/shares/{bobs.pk}/?cascade=false")
    assert response.status_code == 204
    assert DocumentShare.objects.filter(document=document, shared_with=dave).exists()
    assert AccessLog.objects.filter(document=document, action="unshare").count() == 1


def test_downgrading_a_person_with_cascade_removes_the_shares_they_granted(
    alice: User, bob: User, alice_client: APIClient, bob_client: APIClient
) -> None:
    document, dave, bobs = bob_shares_with_dave(alice, bob, bob_client)
    # Still allowed to share: cascade has nothing to do.
    kept = alice_client.patch(
        f"/api/v1/shares/{bobs.pk}/", {"permission": "can_share", "cascade": True}
    )
    assert kept.status_code == 200
    assert DocumentShare.objects.filter(shared_with=dave).exists()

    changed = alice_client.patch(
        f"/api/v1/shares/{bobs.pk}/", {"permission": "collaborator", "cascade": True}
    )
    assert changed.status_code == 200
    assert changed.json()["permission"] == "collaborator"
    assert changed.json()["granter_has_access"] is True  # alice gave it
    assert list(shares_by_email(alice_client, document)) == ["bob@example.com"]
    assert AccessLog.objects.filter(
        document=document, action="unshare", details__granted_by=bob.pk
    ).exists()


def test_downgrading_without_cascade_keeps_the_shares_marked(
    alice: User, bob: User, alice_client: APIClient, bob_client: APIClient
) -> None:
    document, dave, bobs = bob_shares_with_dave(alice, bob, bob_client)
    changed = alice_client.patch(f"/api/v1/shares/{bobs.pk}/", {"permission": "view_only"})
    assert changed.status_code == 200
    daves = shares_by_email(alice_client, document)["dave@example.com"]
    assert daves["granter_has_access"] is False
    # Bob may no longer list the shares, or touch the one he made.
    assert bob_client.get(f"/api/v1/documents/{document.pk}/shares/").status_code == 403
    daves_share = DocumentShare.objects.get(shared_with=dave)
    assert bob_client.delete(f"/api/v1/shares/{daves_share.pk}/").status_code == 403


def test_cascade_removes_nothing_the_caller_could_not_remove_one_by_one(
    alice: User, bob: User, charlie: User, alice_client: APIClient, bob_client: APIClient,
    charlie_client: APIClient,
) -> None:  # fmt: skip
    document, dave, bobs = bob_shares_with_dave(alice, bob, bob_client)
    # Carol may share and gave bob's share; dave's share is bob's, not hers.
    carol = UserFactory.create(email="carol@example.com")
    DocumentShare.objects.create(
        document=document, shared_with=carol, permission="can_share", shared_by=alice
    )
    bobs.shared_by = carol
    bobs.save()
    carol_client = client_for(carol)
    refused = carol_client.delete(f"/api/v1/shares/{bobs.pk}/?cascade=true")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert DocumentShare.objects.filter(pk=bobs.pk).exists()
    assert DocumentShare.objects.filter(shared_with=dave).exists()
    # A stranger learns nothing; a bad value is a 400 and removes nothing.
    assert charlie_client.delete(f"/api/v1/shares/{bobs.pk}/?cascade=true").status_code == 404
    bad = alice_client.delete(f"/api/v1/shares/{bobs.pk}/?cascade=perhaps")
    assert bad.status_code == 400
    assert "cascade" in bad.json()["error"]["fields"]
    assert DocumentShare.objects.count() == 3
    # Bob, leaving, may take the shares he gave with him.
    assert bob_client.delete(f"/api/v1/shares/{bobs.pk}/?cascade=true").status_code == 204
    assert list(DocumentShare.objects.values_list("shared_with__email", flat=True)) == [
        "carol@example.com"
    ]


def test_only_people_who_may_share_list_the_shares(
    alice: User, bob: User, charlie: User, bob_client: APIClient, charlie_client: APIClient
) -> None:
    document = DocumentFactory.create(owner=alice)
    DocumentShare.objects.create(
        document=document, shared_with=bob, permission="view_only", shared_by=alice
    )
    assert bob_client.get(f"/api/v1/documents/{document.pk}/shares/").status_code == 403
    assert charlie_client.get(f"/api/v1/documents/{document.pk}/shares/").status_code == 404


def test_listing_shares_with_their_granter_costs_the_same_for_2_and_20(
    alice: User, bob: User, alice_client: APIClient
) -> None:
    document = DocumentFactory.create(owner=alice)
    DocumentShare.objects.create(
        document=document, shared_with=bob, permission="collaborator", shared_by=alice
    )
    gone = UserFactory.create(is_active=False)

    def add(n: int) -> None:
        # Shares given by the owner, by bob (no longer may share) and by an inactive account.
        for index in range(n):
            granter = (alice, bob, gone)[index % 3]
            DocumentShare.objects.create(
                document=document, shared_with=UserFactory.create(), permission="view_only",
                shared_by=granter,
            )  # fmt: skip

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            response = alice_client.get(f"/api/v1/documents/{document.pk}/shares/")
        assert response.status_code == 200
        return len(response.json()), len(queries)

    add(1)
    rows, few = count()
    assert rows == 2
    add(18)
    rows, many = count()
    assert rows == 20
    assert many == few
    statuses = [
        entry["granter_has_access"] for entry in shares_by_email(alice_client, document).values()
    ]
    assert statuses.count(False) == 12
