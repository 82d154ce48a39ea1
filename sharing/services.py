"""Sharing a document with people, changing and removing shares."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from core.exceptions import NotFound, PermissionDenied, ValidationError
from document_processing.models import Document
from sharing.models import DocumentShare
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

logger = logging.getLogger(__name__)


def share_document(
    *, user: User, document: Document, email: str, permission: str
) -> tuple[DocumentShare, bool]:
    """Share with the person who has `email`; returns (share, created).

    An existing share is updated (by whoever may change it). Only a new share sends an email.
    """
    granter = require(user, Action.MANAGE_SHARES, document)
    if not may_grant(granter, permission):
        message = _("Choose view_only, collaborator or can_share.")
        raise ValidationError(message, fields={"permission": [message]})
    recipient = User.objects.filter(email=normalize_email(email), is_active=True).first()
    if recipient is None:
        raise NotFound(_("No account was found for that email address."))
    if recipient.pk == user.pk:
        message = _("You cannot share a document with yourself.")
        raise ValidationError(message, fields={"email": [message]})
    if recipient.pk == document.owner_id:
        message = _("The owner already has this document.")
        raise ValidationError(message, fields={"email": [message]})
    with transaction.atomic():
        existing = (
            DocumentShare.objects.select_for_update()
            .filter(document=document, shared_with=recipient)
            .first()
        )
        if existing is not None:
            if not may_change_share(user, existing, granter):
                raise PermissionDenied(
                    _("Only the owner or the person who shared it may change this share.")
                )
            existing.permission = permission
            existing.save(update_fields=["permission", "updated_at"])
            return existing, False
        try:
            with transaction.atomic():
                share = DocumentShare.objects.create(
                    document=document, shared_with=recipient, permission=permission, shared_by=user
                )
        except IntegrityError:
            # The same share was made a moment ago by another request.
            share = DocumentShare.objects.get(document=document, shared_with=recipient)
            return share, False
        transaction.on_commit(lambda: _notify(share_id=share.pk))
    return share, True


def _notify(*, share_id: int) -> None:
    share = DocumentShare.objects.select_related("document", "shared_with", "shared_by").get(
        pk=share_id
    )
    context = {
        "document": share.document,
        "shared_by": share.shared_by,
        "permission": share.get_permission_display(),
        "link": f"{settings.SITE_URL.rstrip('/')}/documents/{share.document_id}/",
    }
    try:
        send_mail(
            # One line: a title with line breaks must not break (or inject) mail headers.
            subject=" ".join(render_to_string("sharing/shared_subject.txt", context).split()),
            message=render_to_string("sharing/shared_email.txt", context),
            from_email=None,
            recipient_list=[share.shared_with.email],
        )
    except Exception:
        logger.exception("Could not email the share notification %s", share_id)


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
