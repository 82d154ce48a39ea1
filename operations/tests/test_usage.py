"""Usage accounting: characters per person, engine and month, with the cost of paid engines."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from document_processing.models import Page
from document_processing.tests.factories import document_with_pages
from operations.models import UsageRecord
from operations.usage import add_usage, estimated_cost
from speech_processing import services as speech_services
from speech_processing import voices
from speech_processing.models import Audio
from users.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(alice: User) -> Page:
    return document_with_pages(owner=alice, pages=1).pages.get()


def synthesise(page: Page, user: User, voice: str = "fake:alpha") -> Audio:
    audio = Audio.objects.create(
        page=page, voice=voice, engine="fake", created_by=user, char_count=len(page.text)
    )
    speech_services.synthesize_audio(audio_id=audio.pk)
    audio.refresh_from_db()
    return audio


def test_finished_audio_counts_its_characters_for_its_maker(
    page: Page, alice: User, bob: User
) -> None:
    other_page = document_with_pages(owner=alice, pages=1).pages.get()
    first = synthesise(page, alice, "fake:alpha")
    second = synthesise(page, alice, "fake:beta")
    third = synthesise(other_page, bob, "fake:alpha")
    assert first.status == second.status == third.status == Audio.Status.COMPLETED
    mine = UsageRecord.objects.get(user=alice)
    assert mine.engine == "fake"
    assert mine.characters == first.char_count + second.char_count > 0
    assert mine.audio_count == 2
    assert mine.month == first.completed_at.date().replace(day=1)  # type: ignore[union-attr]
    assert UsageRecord.objects.get(user=bob).characters == third.char_count


def test_failed_audio_counts_nothing(page: Page, alice: User, settings: Any) -> None:
    settings.SPEECH_ENGINES = {"piper": {}, "fake": {"fail_permanently": True}}
    voices.reset_caches()
    audio = synthesise(page, alice)
    assert audio.status == Audio.Status.FAILED
    assert not UsageRecord.objects.exists()


def test_paid_engines_have_an_estimated_cost(alice: User, settings: Any) -> None:
    settings.SPEECH_PRICES_PER_MILLION_CHARS = {"polly": 16.0, "openai": 15.0}
    now = datetime(2025, 3, 14, 12, tzinfo=UTC)
    add_usage(user_id=alice.pk, engine="polly", characters=250_000, now=now)
    add_usage(user_id=alice.pk, engine="polly", characters=50_000, now=now)
    add_usage(user_id=alice.pk, engine="piper", characters=1_000_000, now=now)
    polly = UsageRecord.objects.get(engine="polly")
    assert polly.characters == 300_000
    assert polly.audio_count == 2
    assert polly.estimated_cost == Decimal("4.8")
    assert UsageRecord.objects.get(engine="piper").estimated_cost == 0


def test_each_month_has_its_own_row(alice: User) -> None:
    add_usage(user_id=alice.pk, engine="fake", characters=10,
              now=datetime(2025, 1, 31, 23, 59, tzinfo=UTC))  # fmt: skip
    add_usage(user_id=alice.pk, engine="fake", characters=20,
              now=datetime(2025, 2, 1, 0, 1, tzinfo=UTC))  # fmt: skip
    months = dict(UsageRecord.objects.values_list("month", "characters"))
    assert months == {
        datetime(2025, 1, 1).date(): 10,
        datetime(2025, 2, 1).date(): 20,
    }


def test_the_price_is_per_million_characters(settings: Any) -> None:
    settings.SPEECH_PRICES_PER_MILLION_CHARS = {"polly": 4.0}
    assert estimated_cost(engine="polly", characters=1_000_000) == Decimal("4")
    assert estimated_cost(engine="polly", characters=1) == Decimal("0.000004")
    assert estimated_cost(engine="espeak", characters=1_000_000) == 0
