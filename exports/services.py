"""Account exports: start one, build its ZIP (the task's body), expire old ones, recover lost
ones."""

from __future__ import annotations

import logging
import tempfile
import uuid
from datetime import datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import Conflict, NotFound
from core.queueing import enqueue_on_commit
from core.security_utils import log_exception_safely, new_error_id
from core.storage_errors import is_transient_storage_error
from document_processing.services import delete_now, delete_stored_files
from exports.archive import write_archive
from exports.models import Export
from operations.failures import record_task_failure
from users.models import AccountDeletion, User

logger = logging.getLogger(__name__)

BUILD_TASK = "exports.tasks.build_export_task"
# What storage and the temporary file raise; anything else is a bug, not worth retrying.
STORAGE_ERRORS = (OSError, BotoCoreError, ClientError)
ALREADY_RUNNING = _("An export is already being made. Wait for it to finish.")
# Runs of one export in all (each claim counts: the retries of a storage outage, up to
# exports.tasks.MAX_RETRIES, and takeovers from workers that died): an export that kills its
# worker every time (out of memory, say) is not taken over for ever.
MAX_ATTEMPTS = 8
INTERRUPTED_AGAIN = _("Making this export was interrupted several times. Please start a new one.")


class TransientStorageError(Exception):
    """Storage could not be reached; the export goes back to pending and is retried."""


# --- Asking for an export ---------------------------------------------------------------------


def start_export(*, user: User) -> Export:
    """Queue an export of everything the person keeps. One at a time: a second is a conflict."""
    with transaction.atomic():
        if Export.objects.filter(user=user, status__in=Export.ACTIVE_STATUSES).exists():
            raise Conflict(ALREADY_RUNNING)
        try:
            with transaction.atomic():
                export = Export.objects.create(user=user)
        except IntegrityError as exc:
            # Two requests at once: the conditional unique constraint lets one in.
            raise Conflict(ALREADY_RUNNING) from exc
        enqueue_on_commit(BUILD_TASK, export.pk)
    return export


def export_of(*, user: User, export_id: int) -> Export:
    """The person's own export; anyone else's does not exist for them."""
    export = Export.objects.filter(pk=export_id, user=user).first()
    if export is None:
        raise NotFound(_("Export not found."))
    return export


def latest_export(*, user: User) -> Export | None:
    return Export.objects.filter(user=user).order_by("-created_at", "-id").first()


def is_downloadable(export: Export, *, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return (
        export.status == Export.Status.COMPLETED
        and bool(export.file_key)
        and (export.expires_at is None or export.expires_at > now)
    )


def downloadable_export(*, user: User, export_id: int) -> Export:
    """The export whose ZIP may be downloaded now: 409 while it is being made, 404 when there
    is no file (failed or expired)."""
    export = export_of(user=user, export_id=export_id)
    if export.status in Export.ACTIVE_STATUSES:
        raise Conflict(_("The export is not ready yet."))
    if not is_downloadable(export):
        raise NotFound(_("This export is no longer available. Start a new one."))
    return export


def download_filename(export: Export) -> str:
    made = export.completed_at or export.created_at
    return f"pagecast-export-{made:%Y-%m-%d}.zip"


# --- Building the ZIP (the task's body) -------------------------------------------------------


def build_export(*, export_id: int, redelivered: bool = False) -> None:
    """Claim a pending export, write its ZIP to a temporary file, then store it.

    Safe to run twice: only the run that moves the row from pending to running does work, and a
    ZIP whose row went away meanwhile (the account was deleted) is removed again.

    `redelivered`: the broker gave this message back because the worker that held it died. That
    worker's claim is abandoned, so a row still running is taken over, up to MAX_ATTEMPTS in
    all; past that it fails with a clear message. Should the old worker be alive after all, only
    the first of the two to finish completes the row; the other's ZIP is removed.
    """
    now = timezone.now()
    claimable = Q(status=Export.Status.PENDING)
    if redelivered:
        claimable |= Q(status=Export.Status.RUNNING, attempts__lt=MAX_ATTEMPTS)
    claimed = Export.objects.filter(claimable, pk=export_id).update(
        status=Export.Status.RUNNING, started_at=now, attempts=F("attempts") + 1, updated_at=now
    )
    if not claimed:
        if redelivered and _fail(export_id, INTERRUPTED_AGAIN):
            _report(export_id, INTERRUPTED_AGAIN)
        logger.info("Export %s is not pending; nothing to do", export_id)
        return
    export = Export.objects.select_related("user").get(pk=export_id)
    if AccountDeletion.objects.filter(user_id=export.user_id).exists():
        _fail(export_id, _("This account is being deleted."))
        return
    key = f"exports/{uuid.uuid4().hex}.zip"
    try:
        stored_key, size = _write_and_store(export.user, key=key, now=now)
    except STORAGE_ERRORS as exc:
        _remove_partial(key)
        if is_transient_storage_error(exc):
            _release(export_id)
            raise TransientStorageError from exc
        _fail_for_good(export_id, exc, context="storing an export")
        return
    except Exception as exc:
        _remove_partial(key)
        _fail_for_good(export_id, exc, context="writing an export")
        return
    _complete(export_id, stored_key=stored_key, size=size)


def _write_and_store(user: User, *, key: str, now: datetime) -> tuple[str, int]:
    with tempfile.TemporaryFile(prefix="pagecast-export-") as spool:
        write_archive(user=user, target=spool, now=now)
        size = spool.seek(0, 2)
        spool.seek(0)
        return default_storage.save(key, File(spool, name="export.zip")), size


def _complete(export_id: int, *, stored_key: str, size: int) -> None:
    now = timezone.now()
    updated = Export.objects.filter(pk=export_id, status=Export.Status.RUNNING).update(
        status=Export.Status.COMPLETED,
        file_key=stored_key,
        size_bytes=size,
        error="",
        completed_at=now,
        expires_at=now + timedelta(days=settings.EXPORT_RETENTION_DAYS),
        updated_at=now,
    )
    if not updated:
        # The row was deleted (with its account) or given up meanwhile: nothing points here.
        delete_stored_files(keys=[stored_key])


def _remove_partial(key: str) -> None:
    """A write that failed half-way may have left part of the ZIP under its generated key (what
    storage refuses now is retried by a task)."""
    delete_stored_files(keys=[key])


def _release(export_id: int) -> None:
    Export.objects.filter(pk=export_id, status=Export.Status.RUNNING).update(
        status=Export.Status.PENDING, updated_at=timezone.now()
    )


def _fail(export_id: int, message: str) -> int:
    return Export.objects.filter(pk=export_id, status__in=Export.ACTIVE_STATUSES).update(
        status=Export.Status.FAILED, error=message, updated_at=timezone.now()
    )


def _fail_for_good(export_id: int, exc: BaseException, *, context: str) -> None:
    error_id = new_error_id()
    log_exception_safely(exc, error_id=error_id, context=f"{context} {export_id}")
    message = _("Your export could not be made (error %(id)s). Please try again.") % {
        "id": error_id[:8]
    }
    if _fail(export_id, message):
        _report(export_id, message, error_id=error_id)


def _report(export_id: int, message: str, *, error_id: str | None = None) -> None:
    record_task_failure(
        task="exports.build_export", message=message, object_type="export",
        object_id=export_id, error_id=error_id,
    )  # fmt: skip


def fail_after_retries(*, export_id: int) -> None:
    """Storage stayed unreachable through every retry."""
    message = _("The export could not be stored. Please try again later.")
    if _fail(export_id, message):
        _report(export_id, message)


# --- Expiry and lost work (a beat task) -------------------------------------------------------


def sweep_exports(*, now: datetime | None = None) -> dict[str, int]:
    """Delete the ZIPs of exports past their expiry and mark them expired; queue again exports a
    lost message left pending; fail those whose worker died while running.

    An expired export is marked only once its file is gone, so a file storage refuses to delete
    now is tried again on the next sweep, never forgotten.
    """
    now = now or timezone.now()
    expired = 0
    due = Export.objects.filter(status=Export.Status.COMPLETED, expires_at__lte=now)
    for export_id, key in due.values_list("pk", "file_key")[:1000]:
        if key and delete_now(keys=[key]):
            continue
        expired += Export.objects.filter(pk=export_id, status=Export.Status.COMPLETED).update(
            status=Export.Status.EXPIRED, file_key="", updated_at=now
        )
    abandoned_before = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    interrupted = _("Making this export was interrupted. Please start a new one.")
    abandoned = list(
        Export.objects.filter(
            status=Export.Status.RUNNING, started_at__lt=abandoned_before
        ).values_list("pk", flat=True)
    )
    failed = Export.objects.filter(pk__in=abandoned, status=Export.Status.RUNNING).update(
        status=Export.Status.FAILED, error=interrupted, updated_at=now
    )
    waiting = list(
        Export.objects.filter(
            status=Export.Status.PENDING,
            updated_at__lt=now - timedelta(seconds=settings.STUCK_PENDING_SECONDS),
        ).values_list("pk", flat=True)[:500]
    )
    for export_id in waiting:
        enqueue_on_commit(BUILD_TASK, export_id)
    return {"expired": expired, "failed": failed, "requeued": len(waiting)}


# --- Account deletion -------------------------------------------------------------------------


def delete_exports_of(*, user: User) -> None:
    """Remove the person's exports, files first: a file storage refuses to delete keeps its row
    (and the error propagates), so a re-run finds it again."""
    for export_id, key in Export.objects.filter(user=user).values_list("pk", "file_key"):
        if key and delete_now(keys=[key]):
            raise TransientStorageError(f"could not delete the file of export {export_id}")
        Export.objects.filter(pk=export_id).delete()
