"""Document tasks: thin wrappers that load ids and call services."""

from __future__ import annotations

from celery import Task, shared_task

from core.retry import backoff_seconds
from document_processing import page_imports, services

MAX_RETRIES = 5


@shared_task(bind=True, name="document_processing.extract_document", max_retries=MAX_RETRIES)
def extract_document_task(self: Task, document_id: int) -> None:
    try:
        # A message the broker hands out again lost its worker (see extract_document).
        redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
        services.extract_document(document_id=document_id, redelivered=redelivered)
    except services.TransientStorageError as exc:
        if self.request.retries >= MAX_RETRIES:
            services.fail_after_retries(document_id=document_id)
            return
        countdown = backoff_seconds(self.request.retries, base=5.0, cap=300.0)
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(bind=True, name="document_processing.delete_stored_files", max_retries=8)
def delete_stored_files_task(self: Task, keys: list[str]) -> None:
    failed = services.delete_now(keys=keys)
    if failed:
        countdown = backoff_seconds(self.request.retries, base=30.0, cap=300.0)
        raise self.retry(args=(failed,), countdown=countdown)


@shared_task(bind=True, name="document_processing.import_page")
def import_page_task(self: Task, page_import_id: int) -> None:
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    page_imports.import_page(page_import_id=page_import_id, redelivered=redelivered)


@shared_task(name="document_processing.sweep_stuck_documents")
def sweep_stuck_documents_task() -> dict[str, int]:
    # Pages being added from the web are document work too, recovered on the same schedule.
    imports = page_imports.sweep_stuck_page_imports()
    return {
        **services.sweep_stuck_documents(),
        "page_imports_failed": imports["failed"],
        "page_imports_requeued": imports["requeued"],
    }
