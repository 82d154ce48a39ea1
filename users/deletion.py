"""Deleting an account for good, in a way that survives a crash half-way.

1. `request_account_deletion` (the request, one transaction): checks who is asking, then makes
   the account unusable at once (inactive, no password, its email address replaced, its tokens,
   email addresses and social logins gone), removes every share of its documents and every share
   it gave or received (so nobody reaches its documents any more, and nobody keeps access through
   it to someone else's), and records an AccountDeletion with a random anonymous id. After commit
   it tells the people who lost documents by email, and queues the purge.
2. `purge_account` (a task; re-runnable, claimed so two runs never overlap): its exports, each
   of its documents (stored files first, then the rows: pages, audio, positions), its audit
   entries anonymised, its sessions, and last the account row, which takes the AccountDeletion
   with it. A file storage refuses to delete keeps its row, so the next run finds it again.
3. `sweep_account_deletions` (beat): runs the purge again for every deletion not finished.

Who is asking: the password, for accounts that have one. An account made through social sign-in
has none; it proves itself by signing in again with its provider (allauth records when), no
longer ago than allauth's ACCOUNT_REAUTHENTICATION_TIMEOUT (5 minutes by default).
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import import_module

from allauth.account import app_settings as account_settings
from allauth.account.authentication import get_authentication_records
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth import SESSION_KEY
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from core.exceptions import ValidationError
from core.queueing import enqueue_on_commit
from document_processing.models import Document
from document_processing.services import delete_now, stored_files_of
from exports import services as export_services
from sharing.models import AccessLog, DocumentShare, ShareInvitation
from users.models import AccountDeletion, User

logger = logging.getLogger(__name__)

PURGE_TASK = "users.tasks.purge_account_task"
# Session stores whose sessions can be listed (rows in the database). Others cannot be searched;
# their sessions stop working anyway, because the password hash they were made with is gone.
_LISTABLE_SESSION_ENGINES = {
    "core.sessions",
    "django.contrib.sessions.backends.db",
    "django.contrib.sessions.backends.cached_db",
}
_BATCH = 500


class DeletionIncomplete(Exception):
    """Storage refused to delete something; the purge stops and is run again later."""


# --- Asking ---------------------------------------------------------------------------------


def recently_signed_in_with_provider(request: HttpRequest, user: User) -> bool:
    """True when, in this session, the person signed in through a social provider no longer
    ago than allauth's reauthentication timeout."""
    records = get_authentication_records(request, user)
    limit = account_settings.REAUTHENTICATION_TIMEOUT
    return any(
        record.get("method") == "socialaccount" and time.time() - record.get("at", 0) < limit
        for record in records
    )


def verify_identity(*, user: User, password: str | None, request: HttpRequest | None) -> None:
    """The password for accounts that have one; a fresh social sign-in for those without."""
    if user.has_usable_password():
        if not password:
            message = _("Enter your password to delete your account.")
            raise ValidationError(message, fields={"password": [message]})
        if not user.check_password(password):
            message = _("The password is not correct.")
            raise ValidationError(message, fields={"password": [message]})
        return
    if request is None or not recently_signed_in_with_provider(request, user):
        message = _(
            "Your account has no password: sign in again with the service you use to log in, "
            "then delete your account within a few minutes."
        )
        raise ValidationError(message, fields={"password": [message]})


def request_account_deletion(
    *, user: User, password: str | None, request: HttpRequest | None = None
) -> AccountDeletion:
    """Check who is asking, make the account unusable at once and queue its purge.

    A wrong password changes nothing. Asking twice is harmless (the first deletion stands).
    """
    verify_identity(user=user, password=password, request=request)
    return start_account_deletion(user=user)


def start_account_deletion(*, user: User) -> AccountDeletion:
    """Make the account unusable at once and queue its purge (identity already checked, or a
    staff member's decision). The purge is the same, whoever asked."""
    with transaction.atomic():
        account = User.objects.select_for_update().get(pk=user.pk)
        existing = AccountDeletion.objects.filter(user=account).first()
        if existing is not None:
            return existing
        former_email = account.email
        notices = _share_notices(account)
        deletion = AccountDeletion.objects.create(
            user=account, anonymous_id=secrets.token_hex(16), requested_at=timezone.now()
        )
        account.is_active = False
        account.set_unusable_password()
        # The address is free again at once, and no longer stored with the account.
        account.email = f"deleted-{deletion.anonymous_id}@deleted.invalid"
        account.display_name = ""
        account.preferred_voice = ""
        account.save()
        Token.objects.filter(user=account).delete()
        EmailAddress.objects.filter(user=account).delete()
        SocialAccount.objects.filter(user=account).delete()
        DocumentShare.objects.filter(
            Q(document__owner=account) | Q(shared_with=account) | Q(shared_by=account)
        ).delete()
        # Invitations it sent go with the shares it gave.
        ShareInvitation.objects.filter(Q(document__owner=account) | Q(invited_by=account)).delete()
        transaction.on_commit(lambda: _tell_share_recipients(former_email, notices))
        enqueue_on_commit(PURGE_TASK, account.pk)
    return deletion


@dataclass
class _Notice:
    gone: list[str] = field(default_factory=list)  # the account's documents they had
    unshared: list[str] = field(default_factory=list)  # others' documents it had shared with them


def _share_notices(account: User) -> dict[str, _Notice]:
    """Who loses documents with the account, and which: {their email: notice}."""
    notices: dict[str, _Notice] = {}
    shares = (
        DocumentShare.objects.filter(Q(document__owner=account) | Q(shared_by=account))
        .filter(shared_with__is_active=True)
        .exclude(shared_with=account)
        .select_related("document", "shared_with")
        .order_by("shared_with_id", "document__title", "document_id")
    )
    for share in shares:
        notice = notices.setdefault(share.shared_with.email, _Notice())
        if share.document.owner_id == account.pk:
            notice.gone.append(share.document.title)
        else:
            notice.unshared.append(share.document.title)
    return notices


def _tell_share_recipients(owner_email: str, notices: dict[str, _Notice]) -> None:
    for recipient, notice in notices.items():
        context = {
            "owner": owner_email,
            "gone": notice.gone,
            "unshared": notice.unshared,
            "count": len(notice.gone) + len(notice.unshared),
            "site": settings.SITE_URL,
        }
        try:
            send_mail(
                # One line: nothing in it may break (or inject) mail headers.
                subject=" ".join(
                    render_to_string("users/documents_gone_subject.txt", context).split()
                ),
                message=render_to_string("users/documents_gone_email.txt", context),
                from_email=None,
                recipient_list=[recipient],
            )
        except Exception:
            logger.exception("Could not tell a share recipient that documents were deleted")


# --- Purging (the task's body) --------------------------------------------------------------


def purge_account(*, user_id: int, redelivered: bool = False, now: datetime | None = None) -> bool:
    """Remove what the account holds, then the account. True once nothing is left.

    Only the run that claims the deletion works; a claim older than the hard time limit
    belonged to a worker that died, and is taken over. Each step finds what earlier runs left.

    `redelivered`: the broker gave this message back because the worker that held it died, so
    its claim, however recent, is abandoned and taken over at once. (Should that worker be alive
    after all, two runs overlap harmlessly: each step deletes what is still there.)
    """
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    claimable = Q(claimed_at__isnull=True) | Q(claimed_at__lt=stale)
    if redelivered:
        claimable = Q()
    claimed = (
        AccountDeletion.objects.filter(user_id=user_id)
        .filter(claimable)
        .update(claimed_at=now, attempts=F("attempts") + 1)
    )
    if not claimed:
        return not AccountDeletion.objects.filter(user_id=user_id).exists()
    deletion = AccountDeletion.objects.select_related("user").get(user_id=user_id)
    account = deletion.user
    try:
        try:
            export_services.delete_exports_of(user=account)
        except export_services.TransientStorageError as exc:
            raise DeletionIncomplete(str(exc)) from exc
        _delete_documents(account)
        _anonymise_audit(account, deletion.anonymous_id)
        _anonymise_admin_history(account, deletion.anonymous_id)
        _delete_sessions(account)
        with transaction.atomic():
            # A document whose upload was under way when the deletion began: its files too.
            _delete_documents(account)
            account.delete()  # also its AccountDeletion, positions and remaining rows
    except BaseException:
        AccountDeletion.objects.filter(user_id=user_id).update(claimed_at=None)
        raise
    logger.info("Account %s deleted (%s)", user_id, deletion.anonymous_id)
    return True


def _delete_documents(account: User) -> None:
    for document in Document.objects.filter(owner=account).order_by("pk"):
        refused = delete_now(keys=stored_files_of(document))
        if refused:
            raise DeletionIncomplete(f"storage kept {len(refused)} files of {document.pk}")
        document.delete()


def _anonymise_audit(account: User, anonymous_id: str) -> None:
    """Audit entries stay (what happened to documents matters to their other readers), but
    name nobody: the person's own become the anonymous id, with no address or browser; those
    that name the person as someone shared with or removed name the anonymous id instead."""
    while own := list(AccessLog.objects.filter(user=account).order_by("pk")[:_BATCH]):
        for entry in own:
            details = dict(entry.details) if isinstance(entry.details, dict) else {}
            details.pop("title", None)  # the title of a document of theirs they deleted
            details["anonymous_id"] = anonymous_id
            entry.user, entry.details, entry.client_ip, entry.user_agent = None, details, None, ""
        AccessLog.objects.bulk_update(own, ["user", "details", "client_ip", "user_agent"])
    naming = AccessLog.objects.filter(details__shared_with=account.pk)
    while mentions := list(naming.order_by("pk")[:_BATCH]):
        for entry in mentions:
            entry.details = {
                **entry.details,
                "shared_with": None,
                "shared_with_anonymous_id": anonymous_id,
            }
        AccessLog.objects.bulk_update(mentions, ["details"])


def _anonymise_admin_history(account: User, anonymous_id: str) -> None:
    """Staff changes to the account in Django's admin stay in its history, named by the
    anonymous id instead of the address (the entries hold field names, never values)."""
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(User), object_id=str(account.pk)
    ).update(object_repr=f"deleted account {anonymous_id}")


def _delete_sessions(account: User) -> None:
    """Every stored session logged in as the account (they no longer work: this removes them)."""
    if settings.SESSION_ENGINE not in _LISTABLE_SESSION_ENGINES:
        return
    store = import_module(settings.SESSION_ENGINE).SessionStore
    user_id = str(account.pk)
    # Expired ones too: they still hold the account's id until `clearsessions` runs.
    for session in Session.objects.order_by("pk").iterator(chunk_size=1000):
        if session.get_decoded().get(SESSION_KEY) == user_id:
            store(session_key=session.session_key).delete()


def sweep_account_deletions(*, now: datetime | None = None) -> dict[str, int]:
    """Queue the purge again for deletions nobody is working on: never picked up (a lost
    message), given up after retries, or claimed by a worker that died."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    unfinished = list(
        AccountDeletion.objects.filter(
            Q(claimed_at__isnull=True, requested_at__lt=now - timedelta(minutes=1))
            | Q(claimed_at__lt=stale)
        ).values_list("user_id", flat=True)[:100]
    )
    for user_id in unfinished:
        enqueue_on_commit(PURGE_TASK, user_id)
    return {"requeued": len(unfinished)}
