"""Tasks that failed for good: a record for the dashboard and an email to the admin address.

Recording never fails the work it describes: a record or an alert that cannot be written is
logged and the caller carries on. At most one email goes out per failing object an hour.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.security_utils import new_error_id
from operations.models import FailureAlert, TaskFailure
from operations.site_settings import site_settings

logger = logging.getLogger(__name__)

# At most one alert email per failing object in this time.
ALERT_INTERVAL = timedelta(hours=1)
MESSAGE_MAX = 1000


def record_task_failure(
    *,
    task: str,
    message: str,
    object_type: str = "",
    object_id: object = "",
    error_id: str | None = None,
    now: datetime | None = None,
) -> TaskFailure | None:
    """A task failed for good: keep a record and email the admin (once an hour per object).

    `error_id` is the id already logged next to the cause; without one, a new id is logged here.
    """
    try:
        return _record_task_failure(
            task=task, message=message, object_type=object_type,
            object_id="" if object_id is None else str(object_id),
            error_id=error_id, now=now or timezone.now(),
        )  # fmt: skip
    except Exception:
        logger.exception("Could not record the failure of %s", task)
        return None


def _record_task_failure(
    *, task: str, message: str, object_type: str, object_id: str, error_id: str | None,
    now: datetime,
) -> TaskFailure:  # fmt: skip
    if error_id is None:
        error_id = new_error_id()
        logger.warning(
            "Task %s failed for good: %s %s (error %s)", task, object_type, object_id, error_id,
            extra={"error_id": error_id},
        )  # fmt: skip
    with transaction.atomic():
        failure = TaskFailure.objects.create(
            task=task[:200],
            object_type=object_type[:40],
            object_id=object_id[:64],
            message=str(message)[:MESSAGE_MAX],
            error_id=error_id,
            created_at=now,
        )
        recipient = site_settings().admin_email
        if recipient and _claim_alert(failure.object_key, now=now):
            failure.alerted = True
            failure.save(update_fields=["alerted"])
            transaction.on_commit(lambda: _send_failure_alert(failure, recipient))
    return failure


def _claim_alert(object_key: str, *, now: datetime) -> bool:
    """True for the one caller that may email about this object now (a conditional UPDATE)."""
    alert, created = FailureAlert.objects.get_or_create(
        object_key=object_key[:300], defaults={"last_sent_at": now}
    )
    if created:
        return True
    claimed = FailureAlert.objects.filter(
        pk=alert.pk, last_sent_at__lte=now - ALERT_INTERVAL
    ).update(last_sent_at=now)
    return claimed == 1


def _send_failure_alert(failure: TaskFailure, recipient: str) -> None:
    context = {
        "failure": failure,
        "dashboard_url": settings.SITE_URL.rstrip("/") + reverse("operations:failures"),
    }
    subject = _("[Pagecast] %(task)s failed") % {"task": failure.task}
    if failure.object_label:
        subject += f" ({failure.object_label})"
    try:
        send_mail(
            subject,
            render_to_string("operations/email/failure_alert.txt", context),
            None,
            [recipient],
        )
    except Exception:
        logger.exception("Could not email the alert about failure %s", failure.error_id)
