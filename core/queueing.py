"""Queueing tasks when the current transaction commits, without losing work to a broker outage."""

from __future__ import annotations

from django.db import transaction
from django.utils.module_loading import import_string
from kombu.exceptions import KombuError

from core.security_utils import log_exception_safely, new_error_id


def enqueue_on_commit(task_path: str, *args: object) -> None:
    """Queue the task at `task_path` with `args` once the transaction commits.

    The task is named by its dotted path so that services need not import their own tasks
    module (which imports them). If the broker is down the cause is logged and the row stays
    pending, where the stuck-job sweep finds it; the request itself does not fail.
    """

    def send() -> None:
        try:
            import_string(task_path).delay(*args)
        except KombuError as exc:
            log_exception_safely(exc, error_id=new_error_id(), context=f"queueing {task_path}")

    transaction.on_commit(send)
