"""Figures for the service's foundation."""

from __future__ import annotations

from django.conf import settings
from django.test import Client
from django.utils import timezone
from django.utils.module_loading import import_string

from bench.harness import Figure, interleaved_p50
from operations.models import WorkerHeartbeat


def health_p50(*, runs: int = 40, rounds: int = 5) -> list[Figure]:
    client = Client()
    # A worker reports in, its default voice speaking, as a running one does (none runs in this
    # process).
    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        instance="bench-worker",
        defaults={"nodename": "celery@bench", "host": "bench", "pid": 1, "started_at": now,
                  "last_seen_at": now, "engine_voice": settings.SPEECH_DEFAULT_VOICE,
                  "engine_ok_at": now},
    )  # fmt: skip
    # Warm every probe once without the request's time limit.
    for path in settings.HEALTH_CHECKS.values():
        import_string(path)()

    def health() -> None:
        response = client.get("/health/")
        assert response.status_code == 200, response.content

    def bare() -> None:
        response = client.get("/bench/bare/")
        assert response.status_code == 200

    value, baseline = interleaved_p50(health, bare, runs=runs, rounds=rounds)
    return [
        Figure(
            name="health_ms_p50",
            value=round(value, 3),
            unit="ms",
            baseline=round(baseline, 3),
            note="GET /health/ (database query, broker round trip, storage write/read/delete, "
            "the workers' reports: one alive, its default voice speaking; the oldest waiting "
            "job) vs a bare Django JSON view, both through "
            "the full middleware stack",
        )
    ]


FIGURES = [health_p50]
