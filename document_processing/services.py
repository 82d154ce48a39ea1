"""Document and page actions. Each is one business action; access goes through sharing.policy."""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, Max, Q
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from kombu.exceptions import KombuError

from core.exceptions import (
    Conflict,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
    ValidationError,
)
from core.queueing import enqueue_on_commit
from core.safe_fetch import FetchError, validate_url
from core.security_utils import log_exception_safely, new_error_id
from document_processing import extraction
from document_processing.detection import detect_file_type
from document_processing.extractors.base import ExtractionError
from document_processing.language import is_known, normalise
from document_processing.models import Document, Page
from document_processing.protection import find_lock
from document_processing.utils import sanitize_filename
from operations.failures import record_task_failure
from operations.site_settings import site_settings
from sharing import audit
from sharing.models import AccessLog
from sharing.policy import Action, require
from users.models import User

logger = logging.getLogger(__name__)

INTERRUPTED = _("Processing this document was interrupted too many times.")

EXTENSIONS = {
    "pdf": ".pdf",
    "epub": ".epub",
    "docx": ".docx",
    "html": ".html",
    "markdown": ".md",
    "text": ".txt",
}


class TransientStorageError(Exception):
    """Storage could not be reached; the work is released and retried later."""


# --- Creating documents ---------------------------------------------------------------------


def create_document_from_upload(
    *, owner: User, uploaded_file: UploadedFile, title: str | None = None
) -> Document:
    """Store an uploaded original under a generated key and queue its extraction."""
    size = uploaded_file.size or 0
    limit = site_settings().upload_max_bytes
    if size > limit:
        raise PayloadTooLarge(
            _("The file is larger than the limit of %(size)s.") % {"size": filesizeformat(limit)}
        )
    if size == 0:
        raise ValidationError(_("The file is empty."), fields={"file": [_("The file is empty.")]})
    with _local_copy(uploaded_file) as path:
        kind = detect_file_type(path)
        lock = find_lock(path, kind=kind, limits=extraction.extraction_limits())
    if lock is not None:
        # Refused before anything is stored: a locked file can only fail later.
        raise ValidationError(lock.message, fields={"file": [lock.message]})
    if kind is None:
        raise UnsupportedMediaType(
            _(
                "This type of file is not supported. "
                "Upload a PDF, EPUB, DOCX, HTML, Markdown or text file."
            )
        )
    original_filename = sanitize_filename(uploaded_file.name or "")
    clean_title = (title or "").strip()
    document = Document(
        owner=owner,
        title=clean_title or Path(original_filename).stem or _("Untitled document"),
        title_is_custom=bool(clean_title),
        source_type=Document.SourceType.FILE,
        original_filename=original_filename,
        detected_type=kind,
        file_size=size,
    )
    uploaded_file.seek(0)
    return _save_with_original(document, File(uploaded_file))


def create_document_from_text(*, owner: User, title: str, text: str) -> Document:
    """Pasted text, kept as a Markdown original so it can be extracted, retried and exported."""
    if not text.strip():
        raise ValidationError(_("The text is empty."), fields={"text": [_("The text is empty.")]})
    if len(text) > settings.PASTED_TEXT_MAX_CHARS:
        message = _("The text is longer than %(limit)d characters.") % {
            "limit": settings.PASTED_TEXT_MAX_CHARS
        }
        raise ValidationError(message, fields={"text": [message]})
    data = text.encode("utf-8")
    clean_title = title.strip()
    document = Document(
        owner=owner,
        title=clean_title or _("Pasted text"),
        title_is_custom=bool(clean_title),
        source_type=Document.SourceType.TEXT,
        detected_type="markdown",
        file_size=len(data),
    )
    return _save_with_original(document, ContentFile(data))


def create_document_from_url(*, owner: User, url: str, title: str | None = None) -> Document:
    """A web page to import; fetched by the extraction task, never by the request."""
    try:
        target = validate_url(url, policy=extraction.fetch_policy())
    except FetchError as exc:
        raise ValidationError(exc.user_message, fields={"url": [exc.user_message]}) from exc
    clean_title = (title or "").strip()
    with transaction.atomic():
        document = Document.objects.create(
            owner=owner,
            title=clean_title or target.host[:300],
            title_is_custom=bool(clean_title),
            source_type=Document.SourceType.URL,
            source_url=url,
        )
        _enqueue_extraction_on_commit(document.pk)
    _record_added(document)
    return document


def _save_with_original(document: Document, content: File) -> Document:
    """Store the blob, then the row; if the row cannot be written the blob goes too."""
    key = f"originals/{uuid.uuid4().hex}{EXTENSIONS.get(document.detected_type, '')}"
    try:
        stored_key = default_storage.save(key, content)
    except Exception as exc:
        # A write that failed half-way may have left part of the file under its generated key.
        delete_stored_files(keys=[key], unshared=True)
        error_id = new_error_id()
        log_exception_safely(exc, error_id=error_id, context="storing an original")
        raise ServiceUnavailable(
            _("The file could not be stored. Please try again later.")
        ) from exc
    try:
        with transaction.atomic():
            document.file_key = stored_key
            document.save()
            _enqueue_extraction_on_commit(document.pk)
    except BaseException:
        delete_stored_files(keys=[stored_key], unshared=True)
        raise
    _record_added(document)
    return document


def _record_added(document: Document) -> None:
    """The document's first line in its activity: how it came (a file, pasted text, a URL)."""
    audit.record(user=document.owner, action=AccessLog.Action.ADD, document=document,
                 details={"source": document.source_type})  # fmt: skip


@contextmanager
def _local_copy(uploaded_file: UploadedFile) -> Iterator[Path]:
    """A path to the upload's bytes: its temporary file, or a copy written in chunks."""
    temporary_path = getattr(uploaded_file, "temporary_file_path", None)
    if temporary_path is not None:
        yield Path(temporary_path())
        return
    with tempfile.NamedTemporaryFile(prefix="pagecast-upload-") as copy:
        uploaded_file.seek(0)
        for chunk in uploaded_file.chunks():
            copy.write(chunk)
        copy.flush()
        yield Path(copy.name)


def _enqueue_extraction_on_commit(document_id: int) -> None:
    enqueue_on_commit("document_processing.tasks.extract_document_task", document_id)


# --- Changing documents ---------------------------------------------------------------------


def rename_document(*, user: User, document: Document, title: str) -> Document:
    require(user, Action.RENAME, document)
    clean = title.strip()
    if not clean:
        raise ValidationError(
            _("The title is empty."), fields={"title": [_("The title is empty.")]}
        )
    if clean[:300] == document.title and document.title_is_custom:
        return document  # nothing changed: no line in the activity either
    document.title = clean[:300]
    document.title_is_custom = True
    document.save(update_fields=["title", "title_is_custom", "updated_at"])
    # Not the titles: the audit log is exported with people by id only, and titles are content.
    audit.record(user=user, action=AccessLog.Action.RENAME, document=document)
    return document


def update_document(
    *, user: User, document: Document, title: str | None = None, language: str | None = None
) -> Document:
    """Rename the document (its owner) and/or set its language (whoever may edit pages).

    Both are checked before either is changed. The pages that were in the document's language
    follow it to the new one; a page detected in a language of its own keeps it.
    """
    if title is not None:
        require(user, Action.RENAME, document)
    if language is not None:
        require(user, Action.EDIT_PAGES, document)
        language = checked_language(language)
    with transaction.atomic():
        if title is not None:
            rename_document(user=user, document=document, title=title)
        if language is not None and language != document.language:
            Page.objects.filter(document=document, language=document.language).update(
                language=language, updated_at=timezone.now()
            )
            document.language = language
            document.save(update_fields=["language", "updated_at"])
    return document


def checked_language(language: str) -> str:
    """A BCP 47 tag of a language Pagecast knows, as BCP 47 spells it; a 400 otherwise."""
    tag = normalise(language)
    if not is_known(tag):
        message = _("Give a language as a BCP 47 tag, such as en, ar or pt-BR.")
        raise ValidationError(message, fields={"language": [message]})
    return tag


def delete_document(*, user: User, document: Document) -> None:
    """Remove the rows at once and the stored files after commit (retried if storage fails)."""
    require(user, Action.DELETE, document)
    with transaction.atomic():
        keys = stored_files_of(document)
        document.delete()
        transaction.on_commit(lambda: delete_stored_files(keys=keys))


def stored_files_of(document: Document) -> list[str]:
    """Every stored file that belongs to the document: its original, and what other apps keep
    for it (each app names a collector in STORED_FILE_COLLECTORS)."""
    keys = [key for key in (document.file_key, document.cover_key) if key]
    for path in settings.STORED_FILE_COLLECTORS:
        keys.extend(import_string(path)(document))
    return keys


# Covers are re-encoded to at most 1400 px a side; anything far larger in storage is not ours.
COVER_MAX_BYTES = 8 * 1024 * 1024


def read_cover(*, user: User, document: Document) -> bytes:
    """The document's cover (JPEG bytes) for someone who may view it; NotFound when it has
    none."""
    require(user, Action.VIEW, document)
    cover = stored_cover(document)
    if not cover:
        raise NotFound(_("This document has no cover."))
    return cover


def stored_cover(document: Document) -> bytes:
    """The cover's bytes, or b"" when the document has none (or it is gone from storage);
    storage errors are raised."""
    if not document.cover_key:
        return b""
    try:
        with default_storage.open(document.cover_key, "rb") as handle:
            return bytes(handle.read(COVER_MAX_BYTES))
    except FileNotFoundError:
        logger.warning("The cover of document %s is missing from storage", document.pk)
        return b""


def retry_extraction(*, user: User, document: Document) -> Document:
    require(user, Action.RETRY_EXTRACTION, document)
    with transaction.atomic():
        updated = Document.objects.filter(pk=document.pk, status=Document.Status.FAILED).update(
            status=Document.Status.PENDING, error_message="", updated_at=timezone.now()
        )
        if not updated:
            raise Conflict(_("Only a document whose processing failed can be retried."))
        Page.objects.filter(document=document).delete()
        _enqueue_extraction_on_commit(document.pk)
    document.refresh_from_db()
    return document


def delete_now(*, keys: Iterable[str]) -> list[str]:
    """Delete stored files; returns the keys storage refused."""
    failed = []
    for key in keys:
        try:
            default_storage.delete(key)
        except Exception:
            logger.warning("Could not delete a stored file now; will retry", exc_info=True)
            failed.append(key)
    return failed


def delete_stored_files(*, keys: Iterable[str], unshared: bool = False) -> None:
    """Delete blobs; what storage refuses now is retried by a task, never forgotten.

    Called once the rows that named the files are changed or gone; a file another row still
    names (audio shared between identical pages, STORED_FILE_IN_USE) is kept for it.
    `unshared`: the keys were just made and no row can name them, so no database is asked
    (which also lets a write that failed because the database went away clean up after itself).
    """
    keys = list(keys)
    for path in [] if unshared else settings.STORED_FILE_IN_USE:
        in_use = import_string(path)(keys)
        keys = [key for key in keys if key not in in_use]
    failed = delete_now(keys=keys)
    if failed:
        from document_processing.tasks import delete_stored_files_task

        try:
            delete_stored_files_task.apply_async(args=(failed,), countdown=30)
        except KombuError:
            logger.exception("Could not queue the retry of %d file deletions", len(failed))


# --- Extraction (the task's body) -----------------------------------------------------------


def extract_document(*, document_id: int, redelivered: bool = False) -> None:
    """Claim a pending document, extract its pages and store them in one transaction.

    Safe to run twice: only the run that moves the row from pending to processing does work.

    `redelivered`: the broker gave this message back because the worker that held it died. That
    worker's claim is abandoned, so a row still processing is taken over, up to
    MAX_EXTRACTION_ATTEMPTS in all; past that it fails with a clear message. Should the old
    worker be alive after all, only the first of the two to finish stores pages.
    """
    claimable = Q(status=Document.Status.PENDING)
    if redelivered:
        claimable |= Q(
            status=Document.Status.PROCESSING,
            extraction_attempts__lt=settings.MAX_EXTRACTION_ATTEMPTS,
        )
    claimed = Document.objects.filter(claimable, pk=document_id).update(
        status=Document.Status.PROCESSING,
        processing_started_at=timezone.now(),
        extraction_attempts=F("extraction_attempts") + 1,
        error_message="",
        updated_at=timezone.now(),
    )
    if not claimed:
        if redelivered and Document.objects.filter(
            pk=document_id, status=Document.Status.PROCESSING
        ).update(
            status=Document.Status.FAILED, error_message=INTERRUPTED, updated_at=timezone.now()
        ):
            _report_failure(document_id, INTERRUPTED)
        logger.info("Document %s is not pending; nothing to do", document_id)
        return
    document = Document.objects.get(pk=document_id)
    try:
        result = _extract(document)
    except TransientStorageError:
        _release(document_id)
        raise
    except ExtractionError as exc:
        _fail(document_id, exc.user_message)
        return
    except SoftTimeLimitExceeded:
        _fail_for_good(document_id, _("This document took too long to process."))
        return
    except Exception as exc:
        error_id = new_error_id()
        log_exception_safely(exc, error_id=error_id, context=f"extracting document {document_id}")
        _fail_for_good(
            document_id,
            _("Something went wrong while reading this document (error %(id)s).")
            % {"id": error_id[:8]},
            error_id=error_id,
        )
        return
    _complete(document, result)


def _extract(document: Document) -> extraction.ExtractedDocument:
    if document.source_type == Document.SourceType.URL and not document.file_key:
        _store_fetched_page(document)
    with _downloaded(document.file_key) as path:
        # Workers extract one document after another: each is read by a child forked ahead.
        return extraction.extract_file(path, kind=document.detected_type, fork_server=True)


def _store_fetched_page(document: Document) -> None:
    source = extraction.fetch_source(document.source_url)
    key = f"originals/{uuid.uuid4().hex}{EXTENSIONS[source.kind]}"
    try:
        stored_key = default_storage.save(key, ContentFile(source.body))
    except Exception as exc:
        raise TransientStorageError from exc
    updated = Document.objects.filter(pk=document.pk).update(
        file_key=stored_key, detected_type=source.kind, file_size=len(source.body)
    )
    if not updated:  # deleted meanwhile
        delete_stored_files(keys=[stored_key])
        raise ExtractionError(_("This document was deleted."))
    document.file_key, document.detected_type = stored_key, source.kind


@contextmanager
def _downloaded(key: str) -> Iterator[Path]:
    """The stored original as a local file (parsers and the child process need a path)."""
    with tempfile.TemporaryDirectory(prefix="pagecast-extract-") as folder:
        path = Path(folder) / "original"
        try:
            with default_storage.open(key, "rb") as source, path.open("wb") as target:
                shutil.copyfileobj(source, target, length=1024 * 1024)
        except FileNotFoundError as exc:
            raise ExtractionError(
                _("The uploaded file is missing; please upload it again.")
            ) from exc
        except Exception as exc:
            raise TransientStorageError from exc
        yield path


def _complete(document: Document, result: extraction.ExtractedDocument) -> None:
    cover_key = _store_cover(document, result.cover)
    try:
        replaced = _save_pages(document, result, cover_key=cover_key)
    except BaseException:
        if cover_key:
            delete_stored_files(keys=[cover_key])
        raise
    if replaced is None:  # deleted or changed meanwhile: the new cover belongs to nobody
        if cover_key:
            delete_stored_files(keys=[cover_key])
    elif replaced:
        delete_stored_files(keys=[replaced])


def _store_cover(document: Document, cover: bytes) -> str:
    """The cover in storage, or "" when there is none or storage refuses: a cover is a nicety,
    and never holds up or fails the document."""
    if not cover:
        return ""
    key = default_storage.generate_filename(f"covers/{uuid.uuid4().hex}.jpg")
    try:
        return default_storage.save(key, ContentFile(cover))
    except Exception:
        # Not the exception's text: storage errors can quote endpoints and request details.
        logger.warning("Could not store the cover of document %s; it has none", document.pk)
        return ""


def _save_pages(
    document: Document, result: extraction.ExtractedDocument, *, cover_key: str
) -> str | None:
    """Store the pages and the cover in one transaction; None if the row is no longer being
    processed, else the key of a cover this one replaced ("" for none)."""
    with transaction.atomic():
        # The row may have been deleted or changed while the parser ran.
        current = (
            Document.objects.select_for_update()
            .filter(pk=document.pk, status=Document.Status.PROCESSING)
            .first()
        )
        if current is None:
            return None
        replaced = current.cover_key
        Page.objects.filter(document=current).delete()
        Page.objects.bulk_create(
            [_page_row(current, page) for page in result.pages], batch_size=500
        )
        current.status = Document.Status.COMPLETED
        current.page_count = len(result.pages)
        current.char_count = result.char_count
        current.notes = result.notes
        current.author = result.author
        current.language = result.language
        current.processed_at = timezone.now()
        if not current.title_is_custom and result.title:
            current.title = result.title
        current.cover_key = cover_key
        current.save()
    return replaced


def _page_row(document: Document, data: extraction.PageData) -> Page:
    return Page(
        document=document,
        number=data.number,
        title=data.title,
        markdown=data.markdown,
        text=data.text,
        char_count=data.char_count,
        is_contents=data.contents,
        language=data.language,
    )


def _fail(document_id: int, message: str) -> int:
    return Document.objects.filter(pk=document_id, status=Document.Status.PROCESSING).update(
        status=Document.Status.FAILED,
        error_message=message,
        processed_at=timezone.now(),
        updated_at=timezone.now(),
    )


def _fail_for_good(document_id: int, message: str, *, error_id: str | None = None) -> None:
    """A failure operators hear of (operations: TaskFailure and an alert); not the file's fault."""
    if _fail(document_id, message):
        _report_failure(document_id, message, error_id=error_id)


def _report_failure(document_id: int, message: str, *, error_id: str | None = None) -> None:
    record_task_failure(
        task="document_processing.extract_document", message=message, object_type="document",
        object_id=document_id, error_id=error_id,
    )  # fmt: skip


def _release(document_id: int) -> None:
    Document.objects.filter(pk=document_id, status=Document.Status.PROCESSING).update(
        status=Document.Status.PENDING, updated_at=timezone.now()
    )


def fail_after_retries(*, document_id: int) -> None:
    """Storage stayed unreachable through every retry."""
    message = _("The file could not be read from storage. Please retry later.")
    if Document.objects.filter(
        pk=document_id,
        status__in=[Document.Status.PENDING, Document.Status.PROCESSING],
    ).update(status=Document.Status.FAILED, error_message=message, updated_at=timezone.now()):
        _report_failure(document_id, message)


# --- Pages ----------------------------------------------------------------------------------


def update_page(
    *, user: User, page: Page, markdown: str | None = None, language: str | None = None
) -> Page:
    """Change a page's text and/or its language. Its language stays as it was when only the
    text changes: it may have been set by a person."""
    require(user, Action.EDIT_PAGES, page.document)
    tag = checked_language(language) if language is not None else None
    data = _checked_page(markdown, number=page.number) if markdown is not None else None
    with transaction.atomic():
        if tag is not None:
            page.language = tag
            page.save(update_fields=["language", "updated_at"])
        if data is None:
            return page
        page.markdown, page.text, page.char_count = data.markdown, data.text, data.char_count
        # A heading the person wrote names the page; else the name it had stays.
        page.title = extraction.heading_title(data.markdown) or page.title or data.title
        page.save(update_fields=["markdown", "text", "char_count", "title", "updated_at"])
        _refresh_counts(page.document_id)
    # Who changed the text, and when: audio made before now is outdated from here on.
    audit.record(user=user, action=AccessLog.Action.PAGE_EDIT, document=page.document,
                 details={"page": page.pk, "number": page.number})  # fmt: skip
    return page


def append_page(*, user: User, document: Document, markdown: str) -> Page:
    """Add a page written in Markdown at the end (a web page goes through start_page_import)."""
    require(user, Action.EDIT_PAGES, document)
    if document.status != Document.Status.COMPLETED:
        raise Conflict(_("Pages can be added once the document has been processed."))
    with transaction.atomic():
        locked = Document.objects.select_for_update().get(pk=document.pk)
        if locked.page_count >= settings.DOCUMENT_MAX_PAGES:
            raise ValidationError(_("This document already has the most pages allowed."))
        last = locked.pages.aggregate(last=Max("number"))["last"] or 0
        data = _checked_page(markdown, number=last + 1)
        page = _page_row(locked, data)
        # Detection is the workers' (its model is large); a person can set the page's own.
        page.language = locked.language
        page.save()
        _refresh_counts(locked.pk)
    audit.record(user=user, action=AccessLog.Action.PAGE_EDIT, document=document,
                 details={"page": page.pk, "number": page.number, "added": 1})  # fmt: skip
    return page


def _checked_page(markdown: str, *, number: int) -> extraction.PageData:
    if len(markdown) > settings.PAGE_MAX_CHARS * 2:
        message = _("A page may have at most %(limit)d characters.") % {
            "limit": settings.PAGE_MAX_CHARS * 2
        }
        raise ValidationError(message, fields={"markdown": [message]})
    data = extraction.page_from_markdown(markdown, number=number)
    if not data.markdown:
        raise ValidationError(
            _("The page is empty."), fields={"markdown": [_("The page is empty.")]}
        )
    return data


def _refresh_counts(document_id: int) -> None:
    pages = Page.objects.filter(document_id=document_id)
    Document.objects.filter(pk=document_id).update(
        page_count=pages.count(),
        char_count=sum(pages.values_list("char_count", flat=True)),
        updated_at=timezone.now(),
    )


# --- Recovering lost work (a beat task) -------------------------------------------------------


def sweep_stuck_documents(*, now: datetime | None = None) -> dict[str, int]:
    """Find extraction work that a lost message or a killed worker left behind.

    Pending documents that waited longer than STUCK_PENDING_SECONDS are queued again (a claim
    makes a duplicate harmless). Documents processing for longer than the hard time limit lost
    their worker: they go back to pending and are queued again, or fail with a clear message
    once they have been tried MAX_EXTRACTION_ATTEMPTS times.
    """
    now = now or timezone.now()
    pending_before = now - timedelta(seconds=settings.STUCK_PENDING_SECONDS)
    running_before = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    abandoned = Document.objects.filter(
        status=Document.Status.PROCESSING, processing_started_at__lt=running_before
    )
    interrupted = INTERRUPTED
    given_up = list(
        abandoned.filter(extraction_attempts__gte=settings.MAX_EXTRACTION_ATTEMPTS).values_list(
            "pk", flat=True
        )
    )
    failed = Document.objects.filter(pk__in=given_up, status=Document.Status.PROCESSING).update(
        status=Document.Status.FAILED, error_message=interrupted, updated_at=now
    )
    for document_id in given_up:
        _report_failure(document_id, interrupted)
    released = list(abandoned.values_list("pk", flat=True))
    Document.objects.filter(pk__in=released, status=Document.Status.PROCESSING).update(
        status=Document.Status.PENDING, updated_at=now
    )
    waiting = list(
        Document.objects.filter(
            status=Document.Status.PENDING, updated_at__lt=pending_before
        ).values_list("pk", flat=True)[:500]
    )
    for document_id in [*released, *waiting]:
        _enqueue_extraction_on_commit(document_id)
    return {"failed": failed, "requeued": len(released) + len(waiting)}
