"""The one access policy: who may see a document, and what they may do to it.

Every view, selector, service and task asks this module; nothing else decides access.
An object the caller may not see is "not found" (no existence leak); a visible object the caller
may not change is "permission denied".
"""

from __future__ import annotations

from enum import StrEnum

from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils.translation import gettext as _

from core.compiled import CompiledQuery
from core.exceptions import NotFound, PermissionDenied
from document_processing.models import Document
from sharing.models import DocumentShare, ShareInvitation
from users.models import User


class Permission(StrEnum):
    OWNER = "owner"
    CAN_SHARE = "can_share"
    COLLABORATOR = "collaborator"
    VIEW_ONLY = "view_only"


class Action(StrEnum):
    VIEW = "view"  # see the document, its pages and audio; download, play
    GENERATE_AUDIO = "generate_audio"  # also retry failed audio
    EDIT_PAGES = "edit_pages"  # edit and add pages
    MANAGE_SHARES = "manage_shares"  # list shares, share, read the activity
    RENAME = "rename"
    DELETE = "delete"  # the document, or its audio
    RETRY_EXTRACTION = "retry_extraction"


_ALLOWED: dict[Permission, frozenset[Action]] = {
    Permission.OWNER: frozenset(Action),
    Permission.CAN_SHARE: frozenset(
        {Action.VIEW, Action.GENERATE_AUDIO, Action.EDIT_PAGES, Action.MANAGE_SHARES}
    ),
    Permission.COLLABORATOR: frozenset({Action.VIEW, Action.GENERATE_AUDIO, Action.EDIT_PAGES}),
    Permission.VIEW_ONLY: frozenset({Action.VIEW}),
}

# Permission levels ordered from least to most.
LEVELS = [Permission.VIEW_ONLY, Permission.COLLABORATOR, Permission.CAN_SHARE, Permission.OWNER]


def visible_documents(user: User) -> QuerySet[Document]:
    """Every document the user may see, annotated with their `caller_permission`.

    Owned documents and those shared with the user, found with one subquery (no per-row
    checks), so the query count stays the same at any size.
    """
    if not user.is_authenticated:
        return Document.objects.none()
    shares = DocumentShare.objects.filter(shared_with=user)
    share_permission = shares.filter(document=OuterRef("pk")).values("permission")[:1]
    return Document.objects.filter(Q(owner=user) | Q(pk__in=shares.values("document_id"))).annotate(
        caller_permission=Case(
            When(owner=user, then=Value(Permission.OWNER.value)),
            default=Subquery(share_permission),
            output_field=CharField(),
        )
    )


# The share that gives someone other than the owner access: one indexed lookup, compiled once.
_SHARE = CompiledQuery(
    lambda document_id, user_id: DocumentShare.objects.only("permission").filter(
        document_id=document_id, shared_with_id=user_id
    ),
    document_id=int,
    user_id=int,
)


def _granted(user: User, document: Document) -> str | None:
    """The caller's permission on the document as stored: the owner's, a share's, or None."""
    if document.owner_id == user.pk:
        return Permission.OWNER.value
    share = _SHARE.first(document_id=document.pk, user_id=user.pk)
    return None if share is None else share.permission


def permission_for(user: User, document: Document) -> Permission | None:
    annotated = getattr(document, "caller_permission", None)
    if annotated:
        return Permission(annotated)
    if not user.is_authenticated:
        return None
    granted = _granted(user, document)
    return Permission(granted) if granted else None


def can(user: User, action: Action, document: Document) -> bool:
    permission = permission_for(user, document)
    return permission is not None and action in _ALLOWED[permission]


def require(user: User, action: Action, document: Document) -> Permission:
    """Raise NotFound if the user may not see the document, PermissionDenied if not do `action`."""
    permission = permission_for(user, document)
    if permission is None:
        raise NotFound(_("Document not found."))
    if action not in _ALLOWED[permission]:
        raise PermissionDenied(_("You do not have permission to do this to this document."))
    return permission


def permitted(user: User, document: Document | None) -> Document | None:
    """`document` carrying the caller's permission (as `caller_permission`), or None when the
    caller may not see it.

    The access check of every read of one object: the owner is known from the row, anyone else
    costs one indexed share lookup. (Building `visible_documents` for a single object compiles a
    subquery, which costs far more than running it.)
    """
    if document is None or not user.is_authenticated:
        return None
    permission = _granted(user, document)
    if permission is None:
        return None
    document.caller_permission = permission  # type: ignore[attr-defined]
    return document


# The document of every document-level request: compiled once (core.compiled).
_DOCUMENT = CompiledQuery(
    lambda document_id: Document.objects.select_related("owner").filter(pk=document_id),
    document_id=int,
)


def visible_document(user: User, document_id: int) -> Document:
    """The document with the caller's permission on it and its owner, or NotFound."""
    document = permitted(user, _DOCUMENT.first(document_id=document_id))
    if document is None:
        raise NotFound(_("Document not found."))
    return document


def get_document(user: User, document_id: int, action: Action = Action.VIEW) -> Document:
    """The document, if the user may see it (else NotFound) and do `action` (else 403)."""
    document = visible_document(user, document_id)
    require(user, action, document)
    return document


def may_grant(granter: Permission, permission: str) -> bool:
    """Sharing gives at most can_share, and only people who may manage shares give it."""
    return Action.MANAGE_SHARES in _ALLOWED[granter] and permission in {
        Permission.VIEW_ONLY,
        Permission.COLLABORATOR,
        Permission.CAN_SHARE,
    }


def may_change_share(user: User, share: DocumentShare, permission: Permission) -> bool:
    """The owner, or whoever created that share while they may still manage shares."""
    if permission == Permission.OWNER:
        return True
    return Action.MANAGE_SHARES in _ALLOWED[permission] and share.shared_by_id == user.pk


def may_change_invitation(user: User, invitation: ShareInvitation, permission: Permission) -> bool:
    """As for shares: the owner, or whoever sent the invitation while they may manage shares."""
    if permission == Permission.OWNER:
        return True
    return Action.MANAGE_SHARES in _ALLOWED[permission] and invitation.invited_by_id == user.pk


# The share levels whose holders may give shares; the rest lose that right.
SHARING_LEVELS = frozenset(
    level
    for level in (Permission.VIEW_ONLY, Permission.COLLABORATOR, Permission.CAN_SHARE)
    if Action.MANAGE_SHARES in _ALLOWED[level]
)


def with_granter_access(shares: QuerySet[DocumentShare]) -> QuerySet[DocumentShare]:
    """Annotate `granter_has_access`: may whoever gave each share still give it today?

    A share outlives its granter's access (the owner decides, not the granter), so the dialog
    marks those whose granter is gone: not the owner and no longer holding a share that may
    share, or an inactive or deleted account. One subquery, so a list costs one query.
    """
    granter_may_share = DocumentShare.objects.filter(
        document=OuterRef("document"),
        shared_with=OuterRef("shared_by"),
        permission__in=[level.value for level in SHARING_LEVELS],
    )
    return shares.annotate(
        granter_has_access=Case(
            When(shared_by__isnull=True, then=Value(False)),
            When(shared_by=F("document__owner"), then=Value(True)),
            When(shared_by__is_active=False, then=Value(False)),
            When(Exists(granter_may_share), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    )


def granter_has_access(share: DocumentShare) -> bool:
    annotated = getattr(share, "granter_has_access", None)
    if annotated is not None:
        return bool(annotated)
    found = with_granter_access(DocumentShare.objects.filter(pk=share.pk)).first()
    return bool(getattr(found, "granter_has_access", False))
