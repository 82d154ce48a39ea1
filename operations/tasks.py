"""Operations tasks: thin wrappers over the services."""

from __future__ import annotations

from celery import shared_task

from operations import orphans, retention


@shared_task(name="operations.expire_audio")
def expire_audio_task() -> dict[str, int | bool | str]:
    return retention.run_retention().as_dict()


@shared_task(name="operations.sweep_orphans")
def sweep_orphans_task() -> dict[str, int]:
    return orphans.sweep_orphans().as_dict()
