"""Invitations to share: how a document reaches an email address.

Sharing with an address that holds no share on the document always makes an invitation, whether
or not the address has an account, and the share exists only once someone who has confirmed that
address accepts it (by signing in, by confirming the address after signing up, or by following
the invitation's link). So nothing the sharer sees depends on whether the address has an account:
the API's answer, the message on the page, the dialog's list of pending invitations, the activity
log and the work done before answering are the same either way. What the sharer learns later,
that the invitation became a share, is what the person chose to do with it. An existing share is
never hidden either: "People with access" is exactly who may open the document.

An invitation lapses after SHARE_INVITATION_DAYS; an expired one is not honoured and is deleted by
the hourly sweep. Accepted and withdrawn invitations are deleted at once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from urllib.parse import urlencode

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import NotFound, PermissionDenied
from document_processing.models import Document
from sharing.models import DocumentShare, ShareInvitation
from sharing.policy import Permission, may_change_invitation, permission_for
from users.models import User, normalize_email

logger = logging.getLogger(__name__)

# Inviting an address again extends its invitation; the email goes out again at most this often.
RESEND_AFTER = timedelta(days=1)


def invite(
    *, user: User, document: Document, email: str, permission: str, granter: Permission
) -> ShareInvitation:
    """Invite `email` (normalised; the caller has checked the permission and the address), or
    refresh its pending invitation: the new permission and a new expiry date.

    Inviting again is not an error; someone other than the owner may refresh only the
    invitations they sent, as with shares. An expired invitation is replaced by a new one.
    """
    now = timezone.now()
    expires_at = now + timedelta(days=settings.SHARE_INVITATION_DAYS)
    with transaction.atomic():
        invitation = (
            ShareInvitation.objects.select_for_update()
            .filter(document=document, email=email)
            .first()
        )
        if invitation is not None and invitation.expires_at <= now:
            invitation.delete()
            invitation = None
        if invitation is None:
            try:
                with transaction.atomic():
                    invitation = ShareInvitation.objects.create(
                        document=document, email=email, permission=permission,
                        invited_by=user, expires_at=expires_at, sent_at=now,
                    )  # fmt: skip
            except IntegrityError:
                # The same invitation was made a moment ago by another request.
                return ShareInvitation.objects.get(document=document, email=email)
        else:
            if not may_change_invitation(user, invitation, granter):
                raise PermissionDenied(
                    _("Only the owner or the person who sent it may change this invitation.")
                )
            resend = invitation.sent_at is None or invitation.sent_at <= now - RESEND_AFTER
            invitation.permission = permission
            invitation.expires_at = expires_at
            if resend:
                invitation.sent_at = now
            invitation.save(update_fields=["permission", "expires_at", "sent_at"])
            if not resend:
                return invitation
        invitation_id = invitation.pk
        transaction.on_commit(lambda: send_invitation(invitation_id=invitation_id))
    return invitation


def send_invitation(*, invitation_id: int) -> None:
    """Email the invitation. One message for everyone: it offers both signing in and signing up
    with the address, so sending it does not depend on (or look up) whether it has an account."""
    invitation = (
        ShareInvitation.objects.select_related("document", "invited_by")
        .filter(pk=invitation_id)
        .first()
    )
    if invitation is None:
        return
    site = settings.SITE_URL.rstrip("/")
    opening = reverse("web-open-invitation", kwargs={"pk": invitation.document_id})
    signup = (
        reverse("account_signup") + "?" + urlencode({"email": invitation.email, "next": opening})
    )
    context = {
        "document": invitation.document,
        "invited_by": invitation.invited_by,
        "permission": invitation.get_permission_display(),
        "open_link": site + opening,
        "signup_link": site + signup,
        "expires_at": invitation.expires_at,
    }
    try:
        send_mail(
            # One line: a title with line breaks must not break (or inject) mail headers.
            subject=" ".join(render_to_string("sharing/invitation_subject.txt", context).split()),
            message=render_to_string("sharing/invitation_email.txt", context),
            from_email=None,
            recipient_list=[invitation.email],
        )
    except Exception:
        logger.exception("Could not email the invitation %s", invitation_id)


def confirmed_addresses(user: User) -> set[str]:
    """The addresses the person has shown they receive mail at. Where the site confirms no
    addresses (ACCOUNT_EMAIL_VERIFICATION "none"), the address they log in with counts."""
    addresses = {
        normalize_email(address)
        for address in EmailAddress.objects.filter(user=user, verified=True).values_list(
            "email", flat=True
        )
    }
    if settings.ACCOUNT_EMAIL_VERIFICATION == "none":
        addresses.add(normalize_email(user.email))
    return addresses


def accept_invitations(
    *, user: User, document_id: int | None = None, now: datetime | None = None
) -> list[DocumentShare]:
    """Turn the pending invitations to the person's confirmed addresses (to one document, or to
    all) into their shares; returns the shares made. Expired invitations are not honoured.

    A share the person holds already stays as it is, and so does the owner's own document;
    either way the invitation is used up.
    """
    if not user.is_active:
        return []
    addresses = confirmed_addresses(user)
    if not addresses:
        return []
    made: list[DocumentShare] = []
    with transaction.atomic():
        pending = (
            ShareInvitation.objects.select_for_update(of=("self",))
            .filter(email__in=addresses, expires_at__gt=now or timezone.now())
            .select_related("document")
            .order_by("pk")
        )
        if document_id is not None:
            pending = pending.filter(document_id=document_id)
        invitations = list(pending)
        for invitation in invitations:
            if invitation.document.owner_id == user.pk:
                continue
            share, created = DocumentShare.objects.get_or_create(
                document=invitation.document,
                shared_with=user,
                defaults={
                    "permission": invitation.permission,
                    "shared_by_id": invitation.invited_by_id,
                },
            )
            if created:
                made.append(share)
        ShareInvitation.objects.filter(pk__in=[i.pk for i in invitations]).delete()
    return made


def withdraw_invitation(*, user: User, invitation: ShareInvitation) -> None:
    """The owner, or whoever sent it while they may still manage shares, may withdraw it."""
    caller = permission_for(user, invitation.document)
    if caller is None:
        raise NotFound(_("Invitation not found."))
    if not may_change_invitation(user, invitation, caller):
        raise PermissionDenied(
            _("Only the owner or the person who sent it may withdraw this invitation.")
        )
    ShareInvitation.objects.filter(pk=invitation.pk).delete()


def expire_invitations(*, now: datetime | None = None) -> int:
    """Delete the invitations past their expiry; returns how many."""
    deleted, _by_model = ShareInvitation.objects.filter(
        expires_at__lte=now or timezone.now()
    ).delete()
    return deleted
