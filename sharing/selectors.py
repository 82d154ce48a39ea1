"""Reads for shares and the audit trail, limited by the access policy."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import NotFound
from document_processing.models import Document
from sharing.models import AccessLog, DocumentShare, ShareInvitation
from sharing.policy import (
    Action,
    can,
    permitted,
    require,
    visible_documents,
    with_granter_access,
)
from users.models import User


def shares_of(*, user: User, document: Document) -> QuerySet[DocumentShare]:
    """The document's shares, each with who gave it and whether they still may (one query)."""
    require(user, Action.MANAGE_SHARES, document)
    return with_granter_access(
        DocumentShare.objects.filter(document=document).select_related("shared_with", "shared_by")
    )


def share_detail(*, user: User, share_id: int) -> DocumentShare:
    """A share of a document the user may see (its owner, sharers and the recipient)."""
    share = (
        with_granter_access(DocumentShare.objects.select_related("shared_with", "shared_by"))
        .select_related("document__owner")
        .filter(pk=share_id)
        .first()
    )
    if share is None or permitted(user, share.document) is None:
        raise NotFound(_("Share not found."))
    return share


def invitations_of(*, user: User, document: Document) -> QuerySet[ShareInvitation]:
    """The document's pending invitations (expired ones are not honoured, so not listed)."""
    require(user, Action.MANAGE_SHARES, document)
    return ShareInvitation.objects.filter(
        document=document, expires_at__gt=timezone.now()
    ).select_related("invited_by")


def invitation_detail(*, user: User, invitation_id: int) -> ShareInvitation:
    """An invitation, for the people who may manage the shares of its document."""
    invitation = (
        ShareInvitation.objects.select_related("document__owner", "invited_by")
        .filter(pk=invitation_id)
        .first()
    )
    if invitation is None or not can(user, Action.MANAGE_SHARES, invitation.document):
        raise NotFound(_("Invitation not found."))
    return invitation


def shared_with_me(*, user: User) -> QuerySet[Document]:
    """Documents others shared with the user, newest share first, with who shared them."""
    mine = DocumentShare.objects.filter(shared_with=user, document=OuterRef("pk"))
    return (
        visible_documents(user)
        .exclude(owner=user)
        .select_related("owner")
        .annotate(
            shared_by_id=Subquery(mine.values("shared_by_id")[:1]),
            shared_by_email=Subquery(mine.values("shared_by__email")[:1]),
            shared_at=Subquery(mine.values("created_at")[:1]),
        )
        .order_by("-shared_at", "-id")
    )


def activity_of(*, user: User, document: Document) -> QuerySet[AccessLog]:
    require(user, Action.MANAGE_SHARES, document)
    return (
        AccessLog.objects.filter(document=document)
        .select_related("user")
        .order_by("-created_at", "-id")
    )
