"""The Celery application. Settings come from Django settings under the CELERY_ prefix."""

import os
from typing import Any

from celery import Celery, signals

import core.broker  # noqa: F401  (registers the embedded broker's URL scheme)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings.dev")

app = Celery("pagecast")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


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
    log_exception_safely(exception, error_id=new_error_id(), context=f"{name} {task_id}")
