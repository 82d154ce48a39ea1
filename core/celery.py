"""The Celery application. Settings come from Django settings under the CELERY_ prefix."""

import os
import time
from typing import Any

from celery import Celery, signals
from django.dispatch import Signal

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings.dev")

app = Celery("pagecast")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Every message carries the time it was sent, so `/health/` can tell how long the job next in line
# has waited (core.health.check_queue).
QUEUED_AT_HEADER = "pagecast_queued_at"


@signals.before_task_publish.connect
def stamp_queued_at(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    if headers is not None:
        headers.setdefault(QUEUED_AT_HEADER, time.time())


# Sent after a task that failed for good is logged, with the error id of that log line, so an app
# can record the failure (operations does) without core importing it. Arguments: task_name,
# task_id, args, error_id.
task_failed = Signal()


@signals.task_failure.connect
def log_task_failure(
    sender: Any = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    **kwargs: Any,
) -> None:
    """A task that fails for good is logged with an error id, through the redacting logger."""
    if exception is None:
        return
    from core.security_utils import log_exception_safely, new_error_id

    name = getattr(sender, "name", "task")
    error_id = new_error_id()
    log_exception_safely(exception, error_id=error_id, context=f"{name} {task_id}")
    task_failed.send_robust(
        sender=sender, task_name=name, task_id=task_id, args=kwargs.get("args") or (),
        error_id=error_id,
    )  # fmt: skip
