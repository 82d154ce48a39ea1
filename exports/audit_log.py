"""The audit trail, month by month, as gzip-compressed JSON lines in storage (for staff).

One file per calendar month (UTC): `audit/access-log-YYYY-MM.jsonl.gz`, one audit entry a line
in the order they happened. People are named by id only (and, once their account is deleted, by
the anonymous id the entry keeps), so an exported file never holds an address that outlives its
account. Exporting a month again replaces its file.
"""

from __future__ import annotations

import gzip
import json
import re
import tempfile
from datetime import UTC, date, datetime

from django.core.files.base import File
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import ValidationError
from sharing.models import AccessLog

KEY_TEMPLATE = "audit/access-log-{month:%Y-%m}.jsonl.gz"
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_FIELDS = (
    "id", "created_at", "user_id", "action", "outcome", "document_id", "audio_id", "client_ip",
    "user_agent", "details",
)  # fmt: skip


def parse_month(value: str) -> date:
    """`YYYY-MM` → the first day of that month."""
    match = _MONTH.match(value.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1970:
        message = _("Give the month as YYYY-MM, e.g. 2025-01.")
        raise ValidationError(message, fields={"month": [message]})
    return date(int(match.group(1)), int(match.group(2)), 1)


def previous_month(now: datetime | None = None) -> date:
    today = (now or timezone.now()).astimezone(UTC).date()
    if today.month == 1:
        return date(today.year - 1, 12, 1)
    return date(today.year, today.month - 1, 1)


def key_for(month: date) -> str:
    return KEY_TEMPLATE.format(month=month)


def export_audit_log(*, month: date | str | None = None, now: datetime | None = None) -> str:
    """Write one month of the audit log to storage; returns the storage key.

    `month` is a date in that month or `YYYY-MM`; by default the month before this one. The
    month under way may be exported too (what happened so far); a month to come may not.
    """
    if month is None:
        first = previous_month(now)
    elif isinstance(month, str):
        first = parse_month(month)
    else:
        first = month.replace(day=1)
    current = (now or timezone.now()).astimezone(UTC).date().replace(day=1)
    if first > current:
        message = _("That month has not begun yet.")
        raise ValidationError(message, fields={"month": [message]})
    start = datetime(first.year, first.month, 1, tzinfo=UTC)
    end = datetime(first.year + first.month // 12, first.month % 12 + 1, 1, tzinfo=UTC)
    entries = (
        AccessLog.objects.filter(created_at__gte=start, created_at__lt=end)
        .order_by("created_at", "id")
        .values(*_FIELDS)
    )
    key = key_for(first)
    with tempfile.TemporaryFile(prefix="pagecast-audit-") as spool:
        # mtime=0: the same entries always make the same bytes.
        with gzip.GzipFile(fileobj=spool, mode="wb", mtime=0) as compressed:
            for entry in entries.iterator(chunk_size=5000):
                details = entry["details"] if isinstance(entry["details"], dict) else {}
                line = {**entry, "anonymous_id": details.get("anonymous_id")}
                compressed.write(_json(line).encode() + b"\n")
        spool.seek(0)
        if default_storage.exists(key):
            default_storage.delete(key)
        return default_storage.save(key, File(spool, name="audit.jsonl.gz"))


def export_previous_month_if_missing(*, now: datetime | None = None) -> str | None:
    """The monthly job (run daily by beat, so a day beat was down is made up the next): last
    month's file, unless it is in storage already. Returns the key written, or None."""
    month = previous_month(now)
    if default_storage.exists(key_for(month)):
        return None
    return export_audit_log(month=month, now=now)


def _json(value: object) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))
