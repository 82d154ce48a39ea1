"""Sharing a document with people, changing and removing shares."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.db import transaction
from django.utils.translation import gettext as _

from core.exceptions import NotFound, PermissionDenied, ValidationError
from document_processing.models import Document
from sharing import invitations
from sharing.models import DocumentShare, ShareInvitation
from sharing.policy import (
    SHARING_LEVELS,
    Action,
    Permission,
    may_change_share,
    may_grant,
    permission_for,
    require,
)
from users.models import User, normalize_email


def share_document(
    *, user: User, document: Document, email: str, permission: str
) -> DocumentShare | ShareInvitation:
    """Share with whoever has `email`: an invitation, or a change to a share the address holds.

    An address that holds no share on the document is invited, whether or not it has an account
    (sharing/invitations.py says why); the invitation emails it. An address that holds one (as
    the dialog lists it) has that share's permission changed, by whoever may change it.
    """
    granter = require(user, Action.MANAGE_SHARES, document)
    if not may_grant(granter, permission):
        message = _("Choose view_only, collaborator or can_share.")
        raise ValidationError(message, fields={"permission": [message]})
    email = normalize_email(email)
    own = {normalize_email(user.email), *(normalize_email(a) for a in _addresses_of(user))}
    if email in own:
        message = _("You cannot share a document with yourself.")
        raise ValidationError(message, fields={"email": [message]})
    if email == normalize_email(document.owner.email):
        message = _("The owner already has this document.")
        raise ValidationError(message, fields={"email": [message]})
    with transaction.atomic():
        existing = (
            DocumentShare.objects.select_for_update()
            .filter(document=document, shared_with__email=email)
            .first()
        )
        if existing is not None:
            if not may_change_share(user, existing, granter):
                raise PermissionDenied(
                    _("Only the owner or the person who shared it may change this share.")
                )
            existing.permission = permission
            existing.save(update_fields=["permission", "updated_at"])
            return existing
    return invitations.invite(
        user=user, document=document, email=email, permission=permission, granter=granter
    )


def _addresses_of(user: User) -> list[str]:
    return list(EmailAddress.objects.filter(user=user).values_list("email", flat=True))


def change_share(
    *, user: User, share: DocumentShare, permission: str, cascade: bool = False
) -> tuple[DocumentShare, list[DocumentShare]]:
    """Change the permission; returns (share, the shares removed with it).

    With `cascade`, a person who loses the right to share also loses the shares they gave on this
    document; without it those stay (marked in the dialog as given by someone without access).
    """
    caller = _caller_permission(user, share)
    if not may_change_share(user, share, caller):
        raise PermissionDenied(
            _("Only the owner or the person who shared it may change this share.")
        )
    if not may_grant(caller, permission):
        message = _("Choose view_only, collaborator or can_share.")
        raise ValidationError(message, fields={"permission": [message]})
    with transaction.atomic():
        granted: list[DocumentShare] = []
        if cascade and permission not in SHARING_LEVELS:
            granted = _granted_by(user=user, share=share, caller=caller)
            DocumentShare.objects.filter(pk__in=[g.pk for g in granted]).delete()
        share.permission = permission
        share.save(update_fields=["permission", "updated_at"])
    return share, granted


def remove_share(*, user: User, share: DocumentShare, cascade: bool = False) -> list[DocumentShare]:
    """The owner, whoever made the share, or the person it was given to (leaving) may remove it.

    With `cascade`, the shares that person gave on this document go too (one level: shares those
    people gave in turn stay, marked). Returns the shares removed with it.
    """
    leaving = share.shared_with_id == user.pk
    with transaction.atomic():
        granted: list[DocumentShare] = []
        if not leaving or cascade:
            caller = _caller_permission(user, share)
            if not leaving and not may_change_share(user, share, caller):
                raise PermissionDenied(
                    _("Only the owner or the person who shared it may remove this share.")
                )
            if cascade:
                granted = _granted_by(user=user, share=share, caller=caller)
        DocumentShare.objects.filter(pk__in=[share.pk, *(g.pk for g in granted)]).delete()
    return granted


def _granted_by(*, user: User, share: DocumentShare, caller: Permission) -> list[DocumentShare]:
    """The shares the holder of `share` gave on its document, if the caller may remove each one.

    Cascading removes nothing the caller could not remove one by one.
    """
    granted = list(
        DocumentShare.objects.select_for_update(of=("self",))
        .filter(document_id=share.document_id, shared_by_id=share.shared_with_id)
        .exclude(pk=share.pk)
        .select_related("shared_with")
    )
    if not all(may_change_share(user, other, caller) for other in granted):
        raise PermissionDenied(
            _("Only the owner or the person who shared them may remove the shares they granted.")
        )
    return granted


def _caller_permission(user: User, share: DocumentShare) -> Permission:
    caller = permission_for(user, share.document)
    if caller is None:
        raise NotFound(_("Share not found."))
    return caller
