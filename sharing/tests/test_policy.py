"""When the person who gave a share no longer has access (the share itself stays)."""

from __future__ import annotations

import pytest

from document_processing.tests.factories import DocumentFactory
from sharing.models import DocumentShare
from sharing.policy import granter_has_access, with_granter_access
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
