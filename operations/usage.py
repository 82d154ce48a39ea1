"""Usage accounting: characters synthesised per person, engine and month, and their cost."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from operations.models import UsageRecord
from speech_processing.models import Audio

logger = logging.getLogger(__name__)


def record_synthesis_usage(*, audio_id: int, now: datetime | None = None) -> None:
    """Count a finished audio's characters for its maker, its engine and this month."""
    try:
        row = (
            Audio.objects.filter(pk=audio_id)
            .values("created_by_id", "engine", "char_count")
            .first()
        )
        if row is None:
            return
        add_usage(
            user_id=row["created_by_id"],
            engine=row["engine"],
            characters=row["char_count"],
            now=now or timezone.now(),
        )
    except Exception:
        logger.exception("Could not count the usage of audio %s", audio_id)


def estimated_cost(*, engine: str, characters: int) -> Decimal:
    price = settings.SPEECH_PRICES_PER_MILLION_CHARS.get(engine)
    if not price:
        return Decimal(0)
    return (Decimal(str(price)) * characters / 1_000_000).quantize(Decimal("0.000001"))


def add_usage(*, user_id: int | None, engine: str, characters: int, now: datetime) -> None:
    month = timezone.localdate(now).replace(day=1)
    cost = estimated_cost(engine=engine, characters=characters)
    increments = {
        "characters": F("characters") + characters,
        "audio_count": F("audio_count") + 1,
        "estimated_cost": F("estimated_cost") + cost,
    }
    owner = Q(user_id=user_id) if user_id is not None else Q(user__isnull=True)
    row = UsageRecord.objects.filter(owner, engine=engine, month=month)
    if row.update(**increments):
        return
    try:
        with transaction.atomic():
            UsageRecord.objects.create(
                user_id=user_id, engine=engine, month=month, characters=characters,
                audio_count=1, estimated_cost=cost,
            )  # fmt: skip
    except IntegrityError:
        # Another worker created this month's row first.
        row.update(**increments)
