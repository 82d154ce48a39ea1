"""The audit log exported month by month to storage as gzip-compressed JSON lines."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from core.exceptions import ValidationError
from document_processing.tests.factories import DocumentFactory
from exports import audit_log
from exports.tasks import export_audit_log_task
from sharing.models import AccessLog
from users.models import User

pytestmark = pytest.mark.django_db


def entry(user: User | None, when: datetime, action: str = "play", **details: Any) -> AccessLog:
    row = AccessLog.objects.create(user=user, action=action, outcome="success", details=details)
    AccessLog.objects.filter(pk=row.pk).update(created_at=when)
    return row


def lines(key: str) -> list[dict[str, Any]]:
    with default_storage.open(key, "rb") as stored:
        raw = stored.read()
    assert raw[:2] == b"\x1f\x8b"  # gzip
    return [json.loads(line) for line in gzip.decompress(raw).splitlines()]


def test_a_month_is_written_in_order_with_nothing_from_other_months(alice: User, bob: User) -> None:
    entry(alice, datetime(2025, 2, 28, 23, 59, 59, tzinfo=UTC))
    second = entry(bob, datetime(2025, 3, 31, 23, 59, 59, tzinfo=UTC), "download")
    first = entry(alice, datetime(2025, 3, 1, 0, 0, tzinfo=UTC), "share", permission="view_only")
    entry(alice, datetime(2025, 4, 1, 0, 0, tzinfo=UTC))
    document = DocumentFactory.create(owner=alice)
    AccessLog.objects.filter(pk=first.pk).update(document=document, client_ip="192.0.2.7")

    key = audit_log.export_audit_log(month="2025-03")

    assert key == "audit/access-log-2025-03.jsonl.gz"
    written = lines(key)
    assert [row["id"] for row in written] == [first.pk, second.pk]
    assert written[0] == {
        "id": first.pk,
        "created_at": "2025-03-01T00:00:00Z",
        "user_id": alice.pk,
        "anonymous_id": None,
        "action": "share",
        "outcome": "success",
        "document_id": document.pk,
        "audio_id": None,
        "client_ip": "192.0.2.7",
        "user_agent": "",
        "details": {"permission": "view_only"},
    }
    assert "alice@example.com" not in json.dumps(written)  # people by id only


def test_december_ends_at_the_new_year(alice: User) -> None:
    inside = entry(alice, datetime(2024, 12, 31, 23, 0, tzinfo=UTC))
    entry(alice, datetime(2025, 1, 1, 0, 0, tzinfo=UTC))

    key = audit_log.export_audit_log(month=date(2024, 12, 15))

    assert [row["id"] for row in lines(key)] == [inside.pk]


def test_deleted_accounts_appear_by_their_anonymous_id(alice: User) -> None:
    entry(None, datetime(2025, 5, 2, tzinfo=UTC), anonymous_id="a" * 32)

    [row] = lines(audit_log.export_audit_log(month="2025-05"))

    assert row["user_id"] is None
    assert row["anonymous_id"] == "a" * 32


def test_by_default_the_month_before_this_one_and_exporting_again_replaces_it(
    alice: User,
) -> None:
    now = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
    entry(alice, datetime(2024, 12, 5, tzinfo=UTC))

    key = audit_log.export_audit_log(now=now)
    assert key == "audit/access-log-2024-12.jsonl.gz"
    assert len(lines(key)) == 1

    entry(alice, datetime(2024, 12, 6, tzinfo=UTC))
    assert audit_log.export_audit_log(now=now) == key
    assert len(lines(key)) == 2
    _dirs, files = default_storage.listdir("audit")
    assert files == ["access-log-2024-12.jsonl.gz"]


def test_an_empty_month_is_an_empty_valid_file() -> None:
    key = audit_log.export_audit_log(month="2020-02")

    assert lines(key) == []


@pytest.mark.parametrize("month", ["2025-13", "2025-00", "25-01", "2025/01", "", "soon", "1969-12"])
def test_a_month_that_is_not_yyyy_mm_is_refused(month: str) -> None:
    with pytest.raises(ValidationError) as refused:
        audit_log.export_audit_log(month=month)
    assert refused.value.fields == {"month": ["Give the month as YYYY-MM, e.g. 2025-01."]}
    assert not default_storage.exists("audit")


def test_a_month_to_come_is_refused_and_the_month_under_way_is_allowed(alice: User) -> None:
    now = datetime(2025, 6, 15, tzinfo=UTC)
    with pytest.raises(ValidationError):
        audit_log.export_audit_log(month="2025-07", now=now)
    entry(alice, datetime(2025, 6, 1, tzinfo=UTC))
    assert len(lines(audit_log.export_audit_log(month="2025-06", now=now))) == 1


def test_the_monthly_job_writes_last_month_once(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry(alice, datetime(2025, 2, 3, tzinfo=UTC))
    now = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
    monkeypatch.setattr(audit_log.timezone, "now", lambda: now)

    assert export_audit_log_task.delay().get() == "audit/access-log-2025-02.jsonl.gz"
    entry(alice, datetime(2025, 2, 4, tzinfo=UTC))
    # Run daily: the month is in storage already, so it is left as it is.
    assert export_audit_log_task.delay().get() is None
    assert len(lines("audit/access-log-2025-02.jsonl.gz")) == 1


def test_the_command_exports_a_month_and_prints_its_key(alice: User) -> None:
    entry(alice, datetime(2025, 3, 9, tzinfo=UTC))
    out = io.StringIO()

    call_command("export_audit", "--month", "2025-03", stdout=out)

    assert out.getvalue().strip() == "audit/access-log-2025-03.jsonl.gz"
    assert len(lines("audit/access-log-2025-03.jsonl.gz")) == 1


def test_the_command_refuses_a_bad_month_with_the_reason() -> None:
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("export_audit", "--month", "March")
