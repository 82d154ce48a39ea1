"""Audio retention: warn owners before their audio expires, then expire it and delete its file.

Audio is kept `audio_retention_days` after it was last played or made (`Audio.expires_at`,
renewed by every play). The daily job, in order:

1. Audio past its date whose owner was never told about that date is given `expiry_warning_days`
   more, so nobody loses audio without a warning (after the job was down, or retention was cut).
2. Owners of audio that expires within the warning window hear about it, once per expiry date:
   one email per owner listing all of it.
3. Audio past its date that its owner was warned about is marked `expired` and its file deleted.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import DateTimeField, Exists, ExpressionWrapper, OuterRef, QuerySet
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from document_processing.services import delete_stored_files
from operations.models import ExpiryNotice
from operations.site_settings import site_settings
from speech_processing.models import Audio
from speech_processing.voices import display_name_of

logger = logging.getLogger(__name__)

BATCH = 500
# Audio listed in one warning email; the rest is counted.
LISTED_PER_EMAIL = 50
LOCK_KEY = "operations:retention-running"
LOCK_SECONDS = 60 * 60


@dataclass(frozen=True)
class RetentionReport:
    postponed: int = 0
    warned: int = 0
    emails: int = 0
    expired: int = 0
    dry_run: bool = False
    skipped: str = ""

    def as_dict(self) -> dict[str, int | bool | str]:
        return {
            "postponed": self.postponed,
            "warned": self.warned,
            "emails": self.emails,
            "expired": self.expired,
            "dry_run": self.dry_run,
            "skipped": self.skipped,
        }


def run_retention(*, now: datetime | None = None, dry_run: bool = False) -> RetentionReport:
    """One pass of the retention job. `now` is the job's clock; `dry_run` only counts."""
    now = now or timezone.now()
    config = site_settings()
    if not config.auto_delete_expired:
        return RetentionReport(dry_run=dry_run, skipped=_("auto-delete is off"))
    if dry_run:
        return _dry_run(now=now, warning_days=config.expiry_warning_days)
    if not cache.add(LOCK_KEY, now.isoformat(), LOCK_SECONDS):
        return RetentionReport(skipped=_("another run is in progress"))
    try:
        warning = timedelta(days=config.expiry_warning_days)
        postponed = _postpone_unwarned(now=now, warning=warning) if warning else 0
        warned, emails = _warn_owners(now=now, warning=warning) if warning else (0, 0)
        expired = _expire(now=now, need_notice=bool(warning))
    finally:
        cache.delete(LOCK_KEY)
    report = RetentionReport(postponed=postponed, warned=warned, emails=emails, expired=expired)
    logger.info("Audio retention: %s", report.as_dict())
    return report


def renew_expiry_dates(*, days: int) -> int:
    """After the retention period changed: every kept audio expires `days` after its last play
    (or after it was made). Warnings already sent are for the old dates and do not count."""
    base = Coalesce("last_played_at", "completed_at", "created_at")
    expiry = ExpressionWrapper(base + timedelta(days=days), output_field=DateTimeField())
    return _kept().update(expires_at=expiry)


# --- The steps ----------------------------------------------------------------------------------


def _kept() -> QuerySet[Audio]:
    return Audio.objects.filter(
        lifetime_status=Audio.Lifetime.ACTIVE,
        status=Audio.Status.COMPLETED,
        expires_at__isnull=False,
    )


def _warned_of_current_date() -> Exists:
    return Exists(
        ExpiryNotice.objects.filter(audio=OuterRef("pk"), expires_at=OuterRef("expires_at"))
    )


def _postpone_unwarned(*, now: datetime, warning: timedelta) -> int:
    return (
        _kept()
        .filter(expires_at__lte=now)
        .filter(~_warned_of_current_date())
        .update(expires_at=now + warning, updated_at=now)
    )


def _warn_owners(*, now: datetime, warning: timedelta) -> tuple[int, int]:
    due = (
        _kept()
        .filter(expires_at__gt=now, expires_at__lte=now + warning)
        .filter(~_warned_of_current_date())
        .select_related("page__document__owner")
        .order_by("page__document__owner_id", "expires_at", "pk")
    )
    warned = emails = 0
    rows = due.iterator(chunk_size=BATCH)
    for _owner_id, group in itertools.groupby(rows, key=lambda audio: audio.page.document.owner_id):
        audios = list(group)
        owner = audios[0].page.document.owner
        if not _send_warning(recipient=owner.email, audios=audios):
            continue
        notices = [
            ExpiryNotice(audio=audio, expires_at=date, recipient=owner.email, sent_at=now)
            for audio in audios
            if (date := audio.expires_at) is not None
        ]
        ExpiryNotice.objects.bulk_create(notices, ignore_conflicts=True)
        warned += len(audios)
        emails += 1
    return warned, emails


def _send_warning(*, recipient: str, audios: Sequence[Audio]) -> bool:
    site = settings.SITE_URL.rstrip("/")
    items = [
        {
            "document": audio.page.document.title,
            "page": audio.page.number,
            "voice": display_name_of(audio.voice),
            "expires_at": audio.expires_at,
            "url": site + reverse("document-page", kwargs={"pk": audio.page.document_id}),
        }
        for audio in audios[:LISTED_PER_EMAIL]
    ]
    context = {"items": items, "more": max(len(audios) - LISTED_PER_EMAIL, 0)}
    subject = ngettext(
        "[Pagecast] %(count)d audio will be removed soon",
        "[Pagecast] %(count)d audios will be removed soon",
        len(audios),
    ) % {"count": len(audios)}
    try:
        send_mail(
            subject,
            render_to_string("operations/email/expiry_warning.txt", context),
            None,
            [recipient],
        )
    except Exception:
        # Not recorded as sent: the next run tries again.
        logger.exception("Could not send an expiry warning for %d audios", len(audios))
        return False
    return True


def _expirable(*, now: datetime, need_notice: bool) -> QuerySet[Audio]:
    due = _kept().filter(expires_at__lte=now)
    return due.filter(_warned_of_current_date()) if need_notice else due


def _expire(*, now: datetime, need_notice: bool) -> int:
    """Mark due audio expired, in batches; the files go once each batch is committed."""
    expired = 0
    while True:
        with transaction.atomic():
            rows = list(
                _expirable(now=now, need_notice=need_notice)
                .select_for_update()
                .order_by("pk")
                .values_list("pk", "file_key")[:BATCH]
            )
            if not rows:
                return expired
            Audio.objects.filter(pk__in=[pk for pk, _key in rows]).update(
                lifetime_status=Audio.Lifetime.EXPIRED, file_key="", updated_at=now
            )
            keys = [key for _pk, key in rows if key]
            transaction.on_commit(partial(delete_stored_files, keys=keys))
        expired += len(rows)


def _dry_run(*, now: datetime, warning_days: int) -> RetentionReport:
    warning = timedelta(days=warning_days)
    if not warning:
        return RetentionReport(expired=_expirable(now=now, need_notice=False).count(), dry_run=True)
    unwarned_due = _kept().filter(expires_at__lte=now).filter(~_warned_of_current_date())
    in_window = (
        _kept()
        .filter(expires_at__gt=now, expires_at__lte=now + warning)
        .filter(~_warned_of_current_date())
    )
    owners = (unwarned_due | in_window).values("page__document__owner_id").distinct().count()
    return RetentionReport(
        postponed=unwarned_due.count(),
        warned=unwarned_due.count() + in_window.count(),
        emails=owners,
        expired=_expirable(now=now, need_notice=True).count(),
        dry_run=True,
    )


def describe(report: RetentionReport) -> str:
    """The report in a sentence, for the command line."""
    if report.skipped:
        return _("Nothing done: %(reason)s.") % {"reason": report.skipped}
    text = (
        _(
            "%(warned)d audios warned about in %(emails)d emails (%(postponed)d given more time), "
            "%(expired)d expired."
        )
        % report.as_dict()
    )
    return (_("Dry run: ") + text) if report.dry_run else text
