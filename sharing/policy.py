"""The one access policy: who may see a document, and what they may do to it.

Every view, selector, service and task asks this module; nothing else decides access.
An object the caller may not see is "not found" (no existence leak); a visible object the caller
may not change is "permission denied".
"""

from __future__ import annotations

from enum import StrEnum

from django.db.models import CharField, QuerySet, Value
from django.utils.translation import gettext as _

from core.exceptions import NotFound, PermissionDenied
from document_processing.models import Document
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
    MANAGE_SHARES = "manage_shares"  # list shares, share
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


def visible_documents(user: User) -> QuerySet[Document]:
    """Every document the user may see, annotated with their `caller_permission`."""
    if not user.is_authenticated:
        return Document.objects.none()
    return Document.objects.filter(owner=user).annotate(
        caller_permission=Value(Permission.OWNER.value, output_field=CharField())
    )


def permission_for(user: User, document: Document) -> Permission | None:
    annotated = getattr(document, "caller_permission", None)
    if annotated:
        return Permission(annotated)
    if user.is_authenticated and document.owner_id == user.pk:
        return Permission.OWNER
    return None


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


def get_document(user: User, document_id: int, action: Action = Action.VIEW) -> Document:
    """The document, if the user may see it (else NotFound) and do `action` (else 403)."""
    document = visible_documents(user).filter(pk=document_id).select_related("owner").first()
    if document is None:
        raise NotFound(_("Document not found."))
    require(user, action, document)
    return document
