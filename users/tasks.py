"""Account tasks (queue `default`): thin wrappers over users.deletion."""

from __future__ import annotations

from celery import Task, shared_task

from core.retry import backoff_seconds
from users import deletion

MAX_RETRIES = 8


@shared_task(bind=True, name="users.purge_account", max_retries=MAX_RETRIES)
def purge_account_task(self: Task, user_id: int) -> bool:
    try:
        # A message the broker hands out again lost its worker (see purge_account).
        redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
        return deletion.purge_account(user_id=user_id, redelivered=redelivered)
    except deletion.DeletionIncomplete as exc:
        if self.request.retries >= MAX_RETRIES:
            # The beat sweep runs it again later; the account stays unusable meanwhile.
            return False
        countdown = backoff_seconds(self.request.retries, base=30.0, cap=600.0)
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(name="users.sweep_account_deletions")
def sweep_account_deletions_task() -> dict[str, int]:
    return deletion.sweep_account_deletions()
