"""Reads for the staff dashboard. Each is a fixed number of queries whatever the data size:
totals and per-day figures are aggregates, lists are querysets the views paginate."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from core.query_params import parse_id
from document_processing.models import Document, Page
from operations.models import StaffAction, TaskFailure, UsageRecord
from sharing.models import AccessLog
from speech_processing.models import Audio
from users.models import User

# Voices shown in the "characters by engine and voice" figure (the most used first).
TOP_VOICES = 12


@dataclass(frozen=True)
class Totals:
    users: int
    documents: int
    pages: int
    audios_made: int
    audio_minutes: float
    characters: int
    failures: int


def totals() -> Totals:
    """Everything so far (the storage the files take: operations.storage_usage)."""
    made = Q(completed_at__isnull=False)
    audio = Audio.objects.aggregate(
        made=Count("id", filter=made),
        seconds=Sum("duration_seconds", filter=made),
        # Audio that reused an identical twin's file was not synthesised again.
        characters=Sum("char_count", filter=made & Q(reused=False)),
    )
    return Totals(
        users=User.objects.count(),
        documents=Document.objects.count(),
        pages=Page.objects.count(),
        audios_made=audio["made"],
        audio_minutes=round((audio["seconds"] or 0) / 60, 1),
        characters=audio["characters"] or 0,
        failures=TaskFailure.objects.count(),
    )


@dataclass(frozen=True)
class Daily:
    """Per-day figures over a window of days, every day present (zero when nothing happened)."""

    days: list[date]
    documents: list[int]
    pages: list[int]
    audios: list[int]
    audio_minutes: list[float]
    characters: list[int]
    failures: list[int]
    by_voice: list[dict[str, Any]] = field(default_factory=list)

    def points(self, name: str) -> list[tuple[date, float]]:
        values: list[float] = getattr(self, name)
        return list(zip(self.days, values, strict=True))


def window_start(*, days: int, now: datetime | None = None) -> datetime:
    """Midnight (in the site's time zone) at the start of the first of `days` days to today."""
    today = timezone.localdate(now or timezone.now())
    first = today - timedelta(days=days - 1)
    return timezone.make_aware(datetime.combine(first, time.min))


def daily(*, days: int, now: datetime | None = None) -> Daily:
    start = window_start(days=days, now=now)
    first = timezone.localdate(start)
    dates = [first + timedelta(days=offset) for offset in range(days)]

    def per_day(queryset: QuerySet[Any], field_name: str, **values: Any) -> dict[date, Any]:
        rows = (
            queryset.filter(**{f"{field_name}__gte": start})
            .annotate(day=TruncDate(field_name))
            .values("day")
            .annotate(**values)
            .order_by("day")
        )
        return {row["day"]: row for row in rows}

    documents = per_day(Document.objects.all(), "created_at", n=Count("id"))
    pages = per_day(Page.objects.all(), "created_at", n=Count("id"))
    audios = per_day(
        Audio.objects.all(), "completed_at", n=Count("id"), seconds=Sum("duration_seconds"),
        characters=Sum("char_count", filter=Q(reused=False)),
    )  # fmt: skip
    failures = per_day(TaskFailure.objects.all(), "created_at", n=Count("id"))

    def column(rows: Mapping[date, Any], key: str = "n") -> list[Any]:
        return [(rows[day][key] or 0) if day in rows else 0 for day in dates]

    by_voice = [
        {**row, "minutes": round((row["seconds"] or 0) / 60, 1)}
        for row in Audio.objects.filter(completed_at__gte=start, reused=False)
        .values("engine", "voice")
        .annotate(characters=Sum("char_count"), audios=Count("id"), seconds=Sum("duration_seconds"))
        .order_by("-characters", "voice")[:TOP_VOICES]
    ]
    return Daily(
        days=dates,
        documents=column(documents),
        pages=column(pages),
        audios=column(audios),
        audio_minutes=[round(seconds / 60, 1) for seconds in column(audios, "seconds")],
        characters=column(audios, "characters"),
        failures=column(failures),
        by_voice=by_voice,
    )


def month_start(now: datetime | None = None) -> date:
    return timezone.localdate(now or timezone.now()).replace(day=1)


def usage_by_engine(*, month: date) -> list[dict[str, Any]]:
    """This month's characters and estimated cost per engine (a handful of rows)."""
    return list(
        UsageRecord.objects.filter(month=month)
        .values("engine")
        .annotate(characters=Sum("characters"), audios=Sum("audio_count"),
                  cost=Sum("estimated_cost"))
        .order_by("-cost", "engine")
    )  # fmt: skip


def usage_records(*, month: date) -> QuerySet[UsageRecord]:
    return (
        UsageRecord.objects.filter(month=month)
        .select_related("user")
        .order_by("-estimated_cost", "-characters", "pk")
    )


def usage_months() -> list[date]:
    """Months with usage, newest first (at most two years, for the month picker)."""
    return list(
        UsageRecord.objects.order_by("-month").values_list("month", flat=True).distinct()[:24]
    )


def month_total_cost(*, month: date) -> Decimal:
    total = UsageRecord.objects.filter(month=month).aggregate(cost=Sum("estimated_cost"))["cost"]
    return total or Decimal(0)


def failures() -> QuerySet[TaskFailure]:
    return TaskFailure.objects.order_by("-created_at", "-id")


def activity(
    *, user: str = "", document: str = "", action: str = "", outcome: str = ""
) -> QuerySet[AccessLog]:
    """The audit trail of every document, newest first, narrowed by the dashboard's filters.

    `user`: part of an email address; `document`: a document id, or part of its title.
    """
    entries = AccessLog.objects.select_related("user", "document", "audio").order_by(
        "-created_at", "-id"
    )
    if user:
        entries = entries.filter(user__email__icontains=user)
    if document:
        document_id = parse_id(document)
        if document_id is not None:
            entries = entries.filter(document_id=document_id)
        else:
            entries = entries.filter(document__title__icontains=document)
    if action:
        entries = entries.filter(action=action)
    if outcome:
        entries = entries.filter(outcome=outcome)
    return entries


def staff_actions() -> QuerySet[StaffAction]:
    return StaffAction.objects.order_by("-created_at", "-id")
