"""Tasks used only by the Celery wiring tests (loaded into a worker with --include)."""

from __future__ import annotations

from pathlib import Path

from celery import shared_task


@shared_task(name="document_processing.test_touch")
def touch_on_documents_queue(path: str) -> str:
    Path(path).write_text("documents")
    return "documents"


@shared_task(name="core.test_touch")
def touch(path: str) -> str:
    Path(path).write_text("done")
    return "done"


@shared_task(name="core.test_explode")
def explode(secret: str) -> None:
    raise RuntimeError(f"could not reach the store with {secret}")
