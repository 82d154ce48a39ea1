"""Sharing tasks: thin wrappers over the services."""

from __future__ import annotations

from celery import shared_task

from sharing import invitations


@shared_task(name="sharing.expire_invitations")
def expire_invitations_task() -> int:
    return invitations.expire_invitations()
