"""Export tasks (queue `default`): thin wrappers that load ids and call services."""

from __future__ import annotations

from celery import Task, shared_task

from core.retry import backoff_seconds
from exports import audit_log, services

MAX_RETRIES = 5


@shared_task(bind=True, name="exports.build_export", max_retries=MAX_RETRIES)
def build_export_task(self: Task, export_id: int) -> None:
    try:
        # A message the broker hands out again lost its worker (see build_export).
        redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
        services.build_export(export_id=export_id, redelivered=redelivered)
    except services.TransientStorageError as exc:
        if self.request.retries >= MAX_RETRIES:
            services.fail_after_retries(export_id=export_id)
            return
        countdown = backoff_seconds(self.request.retries, base=10.0, cap=300.0)
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(name="exports.sweep_exports")
def sweep_exports_task() -> dict[str, int]:
    return services.sweep_exports()


@shared_task(name="exports.export_audit_log")
def export_audit_log_task() -> str | None:
    return audit_log.export_previous_month_if_missing()
