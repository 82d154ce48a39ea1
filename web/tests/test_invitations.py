"""The link in an invitation email (web/views/invitations.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.test import Client
from django.utils import timezone

from document_processing.models import Document
from document_processing.tests.factories import DocumentFactory
from sharing.models import AccessLog, DocumentShare, ShareInvitation
from users.models import User
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

REFUSAL = (
    "This invitation cannot be opened. It may have expired or been withdrawn, or it was sent to "
    "an email address you have not confirmed: confirm it with the link we emailed you, then open "
    "the invitation again."
)


def invited(document: Document, email: str, *, days: int = 14) -> ShareInvitation:
    return ShareInvitation.objects.create(
        document=document, email=email, permission="collaborator", invited_by=document.owner,
        expires_at=timezone.now() + timedelta(days=days),
    )  # fmt: skip


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def messages_of(response: object) -> list[str]:
    return [str(message) for message in response.context["messages"]]  # type: ignore[attr-defined]


def test_the_link_accepts_and_opens_the_document(alice: User, bob: User) -> None:
    document = DocumentFactory.create(owner=alice, title="Minutes")
    browser = signed_in(bob)  # signed in before the invitation came
    invited(document, bob.email)
    response = browser.get(f"/documents/{document.pk}/join/", follow=True)
    assert response.redirect_chain == [(f"/documents/{document.pk}/", 302)]
    assert messages_of(response) == ["“Minutes” was shared with you."]
    share = DocumentShare.objects.get()
    assert (share.shared_with, share.permission, share.shared_by) == (bob, "collaborator", alice)
    entry = AccessLog.objects.get()
    assert (entry.action, entry.user, entry.document) == ("invite_accept", bob, document)
    # Followed again, it just opens the document.
    again = browser.get(f"/documents/{document.pk}/join/")
    assert again["Location"] == f"/documents/{document.pk}/"
    assert AccessLog.objects.count() == 1


def test_the_link_asks_a_visitor_to_log_in_first(alice: User) -> None:
    document = DocumentFactory.create(owner=alice)
    response = Client().get(f"/documents/{document.pk}/join/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("case", ["not invited", "expired", "unconfirmed", "no document"])
def test_every_refusal_reads_the_same(alice: User, case: str) -> None:
    document = DocumentFactory.create(owner=alice)
    person = UserFactory.create(email="person@example.com")
    document_id = document.pk
    if case == "expired":
        invited(document, person.email, days=0)
    elif case == "unconfirmed":
        EmailAddress.objects.filter(user=person).update(verified=False)
        invited(document, person.email)
    elif case == "no document":
        document.delete()
    response = signed_in(person).get(f"/documents/{document_id}/join/", follow=True)
    assert response.redirect_chain == [("/library/", 302)]
    assert messages_of(response) == [REFUSAL]
    assert not DocumentShare.objects.exists()


def test_another_persons_invitation_is_not_taken(alice: User, bob: User, charlie: User) -> None:
    document = DocumentFactory.create(owner=alice)
    invited(document, bob.email)
    response = signed_in(charlie).get(f"/documents/{document.pk}/join/", follow=True)
    assert messages_of(response) == [REFUSAL]
    assert ShareInvitation.objects.count() == 1
    assert not DocumentShare.objects.exists()


def test_the_link_only_answers_get(alice: User, bob: User) -> None:
    document = DocumentFactory.create(owner=alice)
    assert signed_in(bob).post(f"/documents/{document.pk}/join/").status_code == 405
