"""Project-wide plumbing: settings, URLs, the Celery app, errors, health and security helpers.

`core` imports no app; apps import `core`.
"""

from core.celery import app as celery_app

__all__ = ["celery_app"]
