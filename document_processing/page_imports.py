"""Adding a page from a web address: checked in the request, fetched and appended by a worker.

A fetch can take as long as URL_IMPORT_TIMEOUT_SECONDS, and the address is chosen by the person
asking, so the web request only checks what needs no network (access, the address's shape, the
literal addresses core.safe_fetch refuses) and leaves a PageImport row for a worker. The row
carries the outcome, so a failure is shown to the person afterwards; the stuck-work sweep
recovers rows whose message or worker was lost.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Max, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import Conflict, ValidationError
from core.queueing import enqueue_on_commit
from core.safe_fetch import FetchError, validate_url
from core.security_utils import log_exception_safely, new_error_id
from document_processing import extraction
from document_processing.extractors.base import ExtractionError
from document_processing.models import Document, Page, PageImport
from operations.failures import record_task_failure
from sharing import audit
from sharing.models import AccessLog
from sharing.policy import Action, require
from users.models import User

logger = logging.getLogger(__name__)

TASK = "document_processing.import_page"
URL_MAX_LENGTH = 2000  # PageImport.url


class _NotAdded(Exception):
    """The page was fetched but the document cannot take it; the message is for the person."""

    def __init__(self, message: str) -> None:
        self.user_message = message
        super().__init__(message)


# --- The request ------------------------------------------------------------------------------


def start_page_import(*, user: User, document: Document, url: str) -> PageImport:
    """Queue the web page at `url` to be added at the end of `document`; nothing is fetched here."""
    require(user, Action.EDIT_PAGES, document)
    if document.status != Document.Status.COMPLETED:
        raise Conflict(_("Pages can be added once the document has been processed."))
    # Kept as given: percent-encoding can make the normalised form longer than the column, and
    # the fetch validates the address again anyway.
    url = url.strip()
    try:
        if len(url) > URL_MAX_LENGTH:
            raise FetchError("invalid_url", _("That link is too long."))
        validate_url(url, policy=extraction.fetch_policy())
    except FetchError as exc:
        raise ValidationError(exc.user_message, fields={"url": [exc.user_message]}) from exc
    if document.page_count >= settings.DOCUMENT_MAX_PAGES:
        raise ValidationError(_("This document already has the most pages allowed."))
    with transaction.atomic():
        page_import = PageImport.objects.create(document=document, requested_by=user, url=url)
        _enqueue_on_commit(page_import.pk)
    return page_import


def _enqueue_on_commit(page_import_id: int) -> None:
    enqueue_on_commit("document_processing.tasks.import_page_task", page_import_id)


# --- The worker -------------------------------------------------------------------------------


def import_page(*, page_import_id: int, redelivered: bool = False) -> None:
    """Claim a pending import, fetch and convert its page, and append it in one transaction.

    Safe to run twice: only the run that moves the row from pending to processing fetches, and
    only a run that moves it from processing to completed appends. `redelivered` (the broker gave
    the message back because its worker died) takes over a claim still marked processing, up to
    MAX_EXTRACTION_ATTEMPTS claims in all, as extract_document does for documents.
    """
    claimable = Q(status=PageImport.Status.PENDING)
    if redelivered:
        claimable |= Q(
            status=PageImport.Status.PROCESSING, attempts__lt=settings.MAX_EXTRACTION_ATTEMPTS
        )
    now = timezone.now()
    claimed = PageImport.objects.filter(claimable, pk=page_import_id).update(
        status=PageImport.Status.PROCESSING,
        processing_started_at=now,
        attempts=F("attempts") + 1,
        error_message="",
        updated_at=now,
    )
    if not claimed:
        if redelivered and _fail(page_import_id, _interrupted()):
            _report_failure(page_import_id, _interrupted())
        logger.info("Page import %s is not pending; nothing to do", page_import_id)
        return
    page_import = PageImport.objects.get(pk=page_import_id)
    try:
        result = _fetch_and_convert(page_import.url)
        _append(page_import, result)
    except (ExtractionError, _NotAdded) as exc:
        _fail(page_import_id, exc.user_message)
    except SoftTimeLimitExceeded:
        _fail_for_good(page_import_id, _("This page took too long to fetch."))
    except Exception as exc:
        error_id = new_error_id()
        log_exception_safely(exc, error_id=error_id, context=f"importing page {page_import_id}")
        _fail_for_good(
            page_import_id,
            _("Something went wrong while adding this page (error %(id)s).") % {"id": error_id[:8]},
            error_id=error_id,
        )


def _fetch_and_convert(url: str) -> extraction.ExtractedDocument:
    source = extraction.fetch_source(url)
    with tempfile.TemporaryDirectory(prefix="pagecast-page-") as folder:
        path = Path(folder) / "page"
        path.write_bytes(source.body)
        # A worker's task, as `services.extract_document`: read by its fork server's spare child.
        return extraction.extract_file(path, kind=source.kind, fork_server=True)


def _append(page_import: PageImport, result: extraction.ExtractedDocument) -> None:
    with transaction.atomic():
        # The document may have been deleted, or sent to processing again, during the fetch.
        document = Document.objects.select_for_update().filter(pk=page_import.document_id).first()
        if document is None:
            return
        if document.status != Document.Status.COMPLETED:
            raise _NotAdded(
                _(
                    "The document was being processed again, so the page was not added. "
                    "Add it again once processing is done."
                )
            )
        if document.page_count + len(result.pages) > settings.DOCUMENT_MAX_PAGES:
            raise _NotAdded(_too_many_pages(document, added=len(result.pages)))
        # A second worker that took over this claim finds it completed here, and adds nothing.
        if not PageImport.objects.filter(
            pk=page_import.pk, status=PageImport.Status.PROCESSING
        ).update(status=PageImport.Status.COMPLETED, updated_at=timezone.now()):
            return
        last = document.pages.aggregate(last=Max("number"))["last"] or 0
        Page.objects.bulk_create(
            [
                _page_row(document, dataclasses.replace(page, number=last + offset))
                for offset, page in enumerate(result.pages, start=1)
            ],
            batch_size=500,
        )
        totals = document.pages.aggregate(count=Count("id"), chars=Sum("char_count"))
        Document.objects.filter(pk=document.pk).update(
            page_count=totals["count"], char_count=totals["chars"] or 0, updated_at=timezone.now()
        )
        PageImport.objects.filter(pk=page_import.pk).update(
            first_page=document.pages.filter(number=last + 1).first(),
            page_count=len(result.pages),
            processed_at=timezone.now(),
        )
    # Pages added are edits of the document, in its activity under the person who asked.
    audit.record(
        user=page_import.requested_by, action=AccessLog.Action.PAGE_EDIT, document=document,
        details={"number": last + 1, "added": len(result.pages)},
    )  # fmt: skip


def _too_many_pages(document: Document, *, added: int) -> str:
    if document.page_count >= settings.DOCUMENT_MAX_PAGES:
        return _("This document already has the most pages allowed.")
    return _(
        "This web page makes %(added)d pages, which would take the document past the most "
        "pages allowed (%(limit)d)."
    ) % {"added": added, "limit": settings.DOCUMENT_MAX_PAGES}


def _page_row(document: Document, data: extraction.PageData) -> Page:
    return Page(
        document=document,
        number=data.number,
        title=data.title,
        markdown=data.markdown,
        text=data.text,
        char_count=data.char_count,
        # Detected from the web page's own text; one that says too little is the document's.
        language=data.language or document.language,
    )


def _interrupted() -> str:
    return _("Fetching this page was interrupted too many times.")


def _fail(page_import_id: int, message: str) -> int:
    now = timezone.now()
    return PageImport.objects.filter(pk=page_import_id, status=PageImport.Status.PROCESSING).update(
        status=PageImport.Status.FAILED, error_message=message, processed_at=now, updated_at=now
    )


def _fail_for_good(page_import_id: int, message: str, *, error_id: str | None = None) -> None:
    """A failure operators hear of: not the web page's fault."""
    if _fail(page_import_id, message):
        _report_failure(page_import_id, message, error_id=error_id)


def _report_failure(page_import_id: int, message: str, *, error_id: str | None = None) -> None:
    record_task_failure(
        task=TASK, message=message, object_type="page_import", object_id=page_import_id,
        error_id=error_id,
    )  # fmt: skip


# --- Recovering lost work (with the documents' beat task) --------------------------------------


def sweep_stuck_page_imports(*, now: datetime | None = None) -> dict[str, int]:
    """Queue again the imports a lost message left pending, and those whose worker died.

    The same rules as sweep_stuck_documents: pending longer than STUCK_PENDING_SECONDS is queued
    again (the claim makes a duplicate harmless); processing longer than the hard time limit
    lost its worker, and goes back to pending, or fails once MAX_EXTRACTION_ATTEMPTS is reached.
    """
    now = now or timezone.now()
    pending_before = now - timedelta(seconds=settings.STUCK_PENDING_SECONDS)
    running_before = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    processing = PageImport.objects.filter(status=PageImport.Status.PROCESSING)
    abandoned = processing.filter(processing_started_at__lt=running_before)
    given_up = list(
        abandoned.filter(attempts__gte=settings.MAX_EXTRACTION_ATTEMPTS).values_list(
            "pk", flat=True
        )
    )
    message = _interrupted()
    failed = processing.filter(pk__in=given_up).update(
        status=PageImport.Status.FAILED, error_message=message, processed_at=now, updated_at=now
    )
    for page_import_id in given_up:
        _report_failure(page_import_id, message)
    released = list(abandoned.values_list("pk", flat=True))
    processing.filter(pk__in=released).update(status=PageImport.Status.PENDING, updated_at=now)
    waiting = list(
        PageImport.objects.filter(
            status=PageImport.Status.PENDING, updated_at__lt=pending_before
        ).values_list("pk", flat=True)[:500]
    )
    for page_import_id in [*released, *waiting]:
        _enqueue_on_commit(page_import_id)
    return {"failed": failed, "requeued": len(released) + len(waiting)}
