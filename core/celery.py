"""The Celery application. Settings come from Django settings under the CELERY_ prefix."""

import os

from celery import Celery

import core.broker  # noqa: F401  (registers the embedded broker's URL scheme)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings.dev")

app = Celery("pagecast")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
