"""Receivers of other parts' signals."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from operations.failures import record_task_failure

# Tasks whose first argument is the id of the object they work on.
TASK_OBJECTS = {
    "speech_processing.generate_audio": "audio",
    "document_processing.extract_document": "document",
}


def record_failed_task(
    sender: Any = None,
    *,
    task_name: str = "",
    args: Any = (),
    error_id: str | None = None,
    **kwargs: Any,
) -> None:
    """core.celery.task_failed: an exception escaped a task (and its retries ran out)."""
    object_type = TASK_OBJECTS.get(task_name, "")
    first = args[0] if object_type and args else ""
    record_task_failure(
        task=task_name or "task",
        message=_("The task stopped with an unexpected error."),
        object_type=object_type,
        object_id=first if isinstance(first, int | str) else "",
        error_id=error_id,
    )
