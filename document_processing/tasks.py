"""Document tasks: thin wrappers that load ids and call services."""

from __future__ import annotations

import random

from celery import Task, shared_task

from document_processing import services

MAX_RETRIES = 5


def backoff_seconds(retries: int, *, base: float = 5.0, cap: float = 300.0) -> float:
    """Exponential backoff with ±20% jitter, so retries of many tasks spread out."""
    delay = min(cap, base * (2**retries))
    return delay * random.uniform(0.8, 1.2)  # noqa: S311 (not cryptographic)


@shared_task(bind=True, name="document_processing.extract_document", max_retries=MAX_RETRIES)
def extract_document_task(self: Task, document_id: int) -> None:
    try:
        services.extract_document(document_id=document_id)
    except services.TransientStorageError as exc:
        if self.request.retries >= MAX_RETRIES:
            services.fail_after_retries(document_id=document_id)
            return
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries)) from exc


@shared_task(bind=True, name="document_processing.delete_stored_files", max_retries=8)
def delete_stored_files_task(self: Task, keys: list[str]) -> None:
    from django.core.files.storage import default_storage

    failed = []
    for key in keys:
        try:
            default_storage.delete(key)
        except Exception:
            failed.append(key)
    if failed:
        raise self.retry(args=(failed,), countdown=backoff_seconds(self.request.retries, base=30))


@shared_task(name="document_processing.sweep_stuck_documents")
def sweep_stuck_documents_task() -> dict[str, int]:
    return services.sweep_stuck_documents()
