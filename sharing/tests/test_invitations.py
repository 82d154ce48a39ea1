"""Invitations to share (sharing/invitations.py): alice owns, bob may share, and people invited
by email, with an account or without one."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core import mail
from django.utils import timezone

from core.exceptions import NotFound, PermissionDenied, ValidationError
from document_processing.models import Document
from document_processing.tests.factories import DocumentFactory
from sharing import invitations, services
from sharing.models import DocumentShare, ShareInvitation
from sharing.policy import Permission
from sharing.tasks import expire_invitations_task
from users.models import User
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

Capture = Callable[..., AbstractContextManager[object]]


@pytest.fixture
def document(alice: User) -> Document:
    return DocumentFactory.create(owner=alice, title='Field notes & "drafts"')


def invite(
    capture: Capture, *, by: User, document: Document, email: str, permission: str = "view_only"
) -> DocumentShare | ShareInvitation:
    with capture(execute=True):
        return services.share_document(
            user=by, document=document, email=email, permission=permission
        )


def test_sharing_with_an_address_invites_it_and_emails_both_ways_in(
    alice: User, document: Document, django_capture_on_commit_callbacks: Capture
) -> None:
    before = timezone.now()
    invitation = invite(django_capture_on_commit_callbacks, by=alice, document=document,
                        email="  New.Person@Example.com ", permission="collaborator")  # fmt: skip
    assert isinstance(invitation, ShareInvitation)
    assert (invitation.email, invitation.permission, invitation.invited_by) == (
        "new.person@example.com", "collaborator", alice,
    )  # fmt: skip
    days = timedelta(days=settings.SHARE_INVITATION_DAYS)
    assert before + days <= invitation.expires_at <= timezone.now() + days
    assert settings.SHARE_INVITATION_DAYS == 14
    assert not DocumentShare.objects.exists()

    (message,) = mail.outbox
    assert message.to == ["new.person@example.com"]
    assert message.subject == '"Field notes & "drafts"" was shared with you on Pagecast'
    assert message.body.startswith(
        'alice@example.com shared "Field notes & "drafts"" with you on Pagecast (Collaborator).'
    )
    site = settings.SITE_URL.rstrip("/")
    assert f"{site}/documents/{document.pk}/join/" in message.body
    signup = re.search(rf"{re.escape(site)}/accounts/signup/\?\S+", str(message.body))
    assert signup is not None
    query = parse_qs(urlsplit(signup.group(0)).query)
    assert query == {
        "email": ["new.person@example.com"],
        "next": [f"/documents/{document.pk}/join/"],
    }
    assert "The invitation expires on" in message.body


def test_the_email_is_the_same_for_an_address_with_an_account(
    alice: User, bob: User, document: Document, django_capture_on_commit_callbacks: Capture
) -> None:
    invite(django_capture_on_commit_callbacks, by=alice, document=document, email=bob.email)
    invite(django_capture_on_commit_callbacks, by=alice, document=document, email="x@example.com")
    with_account, without = mail.outbox
    assert with_account.subject == without.subject
    assert with_account.body.replace(bob.email, "ADDRESS").replace(
        "bob%40example.com", "ADDRESS"
    ) == without.body.replace("x@example.com", "ADDRESS").replace("x%40example.com", "ADDRESS")
    # Nothing is shared until bob accepts.
    assert not DocumentShare.objects.exists()


def test_inviting_again_refreshes_the_invitation_and_emails_at_most_daily(
    alice: User, document: Document, django_capture_on_commit_callbacks: Capture
) -> None:
    first = invite(django_capture_on_commit_callbacks, by=alice, document=document,
                   email="new@example.com")  # fmt: skip
    assert isinstance(first, ShareInvitation)
    ShareInvitation.objects.filter(pk=first.pk).update(
        expires_at=timezone.now() + timedelta(days=2)
    )
    again = invite(django_capture_on_commit_callbacks, by=alice, document=document,
                   email="NEW@example.com", permission="can_share")  # fmt: skip
    assert isinstance(again, ShareInvitation)
    assert again.pk == first.pk
    assert again.permission == "can_share"
    assert again.expires_at > timezone.now() + timedelta(days=13)
    assert ShareInvitation.objects.count() == 1
    assert len(mail.outbox) == 1  # sent a moment ago: not again
    ShareInvitation.objects.filter(pk=first.pk).update(
        sent_at=timezone.now() - timedelta(days=1, minutes=1)
    )
    invite(django_capture_on_commit_callbacks, by=alice, document=document, email="new@example.com")
    assert len(mail.outbox) == 2
    assert "(View only)" in mail.outbox[1].body  # the permission of the latest invitation


def test_only_the_owner_or_the_sender_may_change_an_invitation(
    alice: User, bob: User, charlie: User, document: Document,
    django_capture_on_commit_callbacks: Capture,
) -> None:  # fmt: skip
    for person in (bob, charlie):
        DocumentShare.objects.create(
            document=document, shared_with=person, permission="can_share", shared_by=alice
        )
    invite(django_capture_on_commit_callbacks, by=bob, document=document, email="new@example.com")
    with pytest.raises(PermissionDenied):
        services.share_document(
            user=charlie, document=document, email="new@example.com", permission="collaborator"
        )
    refreshed = invite(django_capture_on_commit_callbacks, by=alice, document=document,
                       email="new@example.com", permission="collaborator")  # fmt: skip
    assert isinstance(refreshed, ShareInvitation)
    assert (refreshed.permission, refreshed.invited_by) == ("collaborator", bob)


def test_an_expired_invitation_is_replaced_by_a_new_one(
    alice: User, bob: User, charlie: User, document: Document,
    django_capture_on_commit_callbacks: Capture,
) -> None:  # fmt: skip
    DocumentShare.objects.create(
        document=document, shared_with=charlie, permission="can_share", shared_by=alice
    )
    old = invite(django_capture_on_commit_callbacks, by=alice, document=document,
                 email="new@example.com")  # fmt: skip
    ShareInvitation.objects.filter(pk=old.pk).update(expires_at=timezone.now())
    new = invite(django_capture_on_commit_callbacks, by=charlie, document=document,
                 email="new@example.com")  # fmt: skip
    assert isinstance(new, ShareInvitation)
    assert new.pk != old.pk
    assert new.invited_by == charlie
    assert len(mail.outbox) == 2


@pytest.mark.parametrize(
    ("email", "field"),
    [
        ("alice@example.com", "email"),  # yourself
        ("alice.other@example.com", "email"),  # another of your own addresses
    ],
)
def test_inviting_yourself_is_refused(
    alice: User, document: Document, email: str, field: str
) -> None:
    EmailAddress.objects.create(user=alice, email="alice.other@example.com", verified=False)
    with pytest.raises(ValidationError) as refused:
        services.share_document(user=alice, document=document, email=email, permission="view_only")
    assert field in refused.value.fields
    assert not ShareInvitation.objects.exists()


def test_inviting_the_owner_is_refused(alice: User, bob: User, document: Document) -> None:
    DocumentShare.objects.create(document=document, shared_with=bob, permission="can_share")
    with pytest.raises(ValidationError) as refused:
        services.share_document(
            user=bob, document=document, email="ALICE@example.com", permission="view_only"
        )
    assert "email" in refused.value.fields
    assert not ShareInvitation.objects.exists()


def test_an_address_that_holds_a_share_has_it_changed_not_invited(
    alice: User, bob: User, document: Document, django_capture_on_commit_callbacks: Capture
) -> None:
    share = DocumentShare.objects.create(
        document=document, shared_with=bob, permission="view_only", shared_by=alice
    )
    changed = invite(django_capture_on_commit_callbacks, by=alice, document=document,
                     email="Bob@Example.com", permission="collaborator")  # fmt: skip
    assert changed == share
    share.refresh_from_db()
    assert share.permission == "collaborator"
    assert not ShareInvitation.objects.exists()
    assert mail.outbox == []


# --- Accepting ---------------------------------------------------------------------------------


def pending(document: Document, email: str, *, days: int = 14, by: User | None = None,
            permission: str = "collaborator") -> ShareInvitation:  # fmt: skip
    return ShareInvitation.objects.create(
        document=document, email=email, permission=permission,
        invited_by=by or document.owner, expires_at=timezone.now() + timedelta(days=days),
    )  # fmt: skip


def test_a_confirmed_address_accepts_its_invitations(
    alice: User, bob: User, document: Document
) -> None:
    other = DocumentFactory.create(owner=alice)
    pending(document, "bob@example.com")
    pending(other, "bob@example.com", permission="view_only")
    pending(document, "someone.else@example.com")
    made = invitations.accept_invitations(user=bob)
    assert sorted((s.document_id, s.permission, s.shared_by_id) for s in made) == sorted(
        [(document.pk, "collaborator", alice.pk), (other.pk, "view_only", alice.pk)]
    )
    assert list(ShareInvitation.objects.values_list("email", flat=True)) == [
        "someone.else@example.com"
    ]
    assert invitations.accept_invitations(user=bob) == []


def test_accepting_one_document_leaves_the_other_invitations(
    alice: User, bob: User, document: Document
) -> None:
    other = DocumentFactory.create(owner=alice)
    pending(document, "bob@example.com")
    pending(other, "bob@example.com")
    (made,) = invitations.accept_invitations(user=bob, document_id=document.pk)
    assert made.document == document
    assert list(ShareInvitation.objects.values_list("document_id", flat=True)) == [other.pk]


def test_an_unconfirmed_address_accepts_nothing(alice: User, document: Document) -> None:
    newcomer = UserFactory.create(email="new@example.com")
    EmailAddress.objects.filter(user=newcomer).update(verified=False)
    pending(document, "new@example.com")
    assert invitations.accept_invitations(user=newcomer) == []
    assert ShareInvitation.objects.count() == 1
    EmailAddress.objects.filter(user=newcomer).update(verified=True)
    assert len(invitations.accept_invitations(user=newcomer)) == 1


def test_without_address_confirmation_the_login_address_counts(
    alice: User, document: Document, settings: Any
) -> None:
    newcomer = UserFactory.create(email="new@example.com")
    EmailAddress.objects.filter(user=newcomer).delete()
    pending(document, "new@example.com")
    assert invitations.accept_invitations(user=newcomer) == []
    settings.ACCOUNT_EMAIL_VERIFICATION = "none"
    assert len(invitations.accept_invitations(user=newcomer)) == 1


def test_an_expired_invitation_is_not_honoured(alice: User, bob: User, document: Document) -> None:
    invitation = pending(document, "bob@example.com")
    later = invitation.expires_at + timedelta(seconds=1)
    assert invitations.accept_invitations(user=bob, now=later) == []
    ShareInvitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now())
    assert invitations.accept_invitations(user=bob) == []
    assert not DocumentShare.objects.exists()


def test_an_inactive_account_accepts_nothing(alice: User, bob: User, document: Document) -> None:
    pending(document, "bob@example.com")
    bob.is_active = False
    bob.save()
    assert invitations.accept_invitations(user=bob) == []


def test_a_share_held_already_stays_and_the_owner_gets_no_share(
    alice: User, bob: User, document: Document
) -> None:
    DocumentShare.objects.create(
        document=document, shared_with=bob, permission="can_share", shared_by=alice
    )
    pending(document, "bob@example.com", permission="view_only")
    EmailAddress.objects.create(user=alice, email="alice.work@example.com", verified=True)
    pending(document, "alice.work@example.com")
    assert invitations.accept_invitations(user=bob) == []
    assert invitations.accept_invitations(user=alice) == []
    assert DocumentShare.objects.get().permission == "can_share"
    assert not ShareInvitation.objects.exists()


# --- Withdrawing and expiry ---------------------------------------------------------------------


def test_withdrawing_is_for_the_owner_and_the_sender(
    alice: User, bob: User, charlie: User, document: Document
) -> None:
    DocumentShare.objects.create(
        document=document, shared_with=bob, permission="can_share", shared_by=alice
    )
    by_owner = pending(document, "one@example.com")
    by_bob = pending(document, "two@example.com", by=bob)
    with pytest.raises(PermissionDenied):
        invitations.withdraw_invitation(user=bob, invitation=by_owner)
    with pytest.raises(NotFound):
        invitations.withdraw_invitation(user=charlie, invitation=by_bob)
    invitations.withdraw_invitation(user=bob, invitation=by_bob)
    invitations.withdraw_invitation(user=alice, invitation=by_owner)
    assert not ShareInvitation.objects.exists()
    # A withdrawn invitation is not honoured.
    one = UserFactory.create(email="one@example.com")
    assert invitations.accept_invitations(user=one) == []


def test_a_sender_who_may_no_longer_share_may_not_withdraw(
    alice: User, bob: User, document: Document
) -> None:
    share = DocumentShare.objects.create(
        document=document, shared_with=bob, permission="can_share", shared_by=alice
    )
    by_bob = pending(document, "two@example.com", by=bob)
    share.permission = Permission.VIEW_ONLY
    share.save()
    with pytest.raises(PermissionDenied):
        invitations.withdraw_invitation(user=bob, invitation=by_bob)


def test_the_sweep_deletes_expired_invitations_only(alice: User, document: Document) -> None:
    pending(document, "kept@example.com", days=1)
    expired = pending(document, "gone@example.com")
    ShareInvitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    assert expire_invitations_task() == 1
    assert list(ShareInvitation.objects.values_list("email", flat=True)) == ["kept@example.com"]
    schedule = settings.CELERY_BEAT_SCHEDULE["expire-share-invitations"]
    assert schedule["task"] == "sharing.expire_invitations"


def test_deleting_a_document_or_the_senders_account_ends_its_invitations(
    alice: User, bob: User, document: Document
) -> None:
    from users.deletion import start_account_deletion

    other = DocumentFactory.create(owner=bob)
    DocumentShare.objects.create(
        document=document, shared_with=bob, permission="can_share", shared_by=alice
    )
    pending(document, "from-bob@example.com", by=bob)
    pending(document, "from-alice@example.com")
    pending(other, "to-bobs@example.com")
    start_account_deletion(user=bob)
    assert list(ShareInvitation.objects.values_list("email", flat=True)) == [
        "from-alice@example.com"
    ]
    document.delete()
    assert not ShareInvitation.objects.exists()
