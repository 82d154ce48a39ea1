"""Health probes. Each check raises on failure; `run_checks` runs them all with a time limit.

Apps add their own probes through the HEALTH_CHECKS setting (name → dotted path), so `core`
never imports an app.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="health")


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    duration_ms: float


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        if cursor.fetchone() != (1,):
            raise RuntimeError("unexpected answer")


def check_broker() -> None:
    from core.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(
            max_retries=1, timeout=int(settings.HEALTH_CHECK_TIMEOUT_SECONDS) or 1
        )
        # A round trip that needs a working broker, not only an open socket.
        channel: Any = conn.default_channel
        channel.queue_declare(queue="pagecast.health", auto_delete=True)
        channel.queue_delete(queue="pagecast.health")


def check_queue() -> None:
    """The oldest job waiting on a queue waits no longer than QUEUE_MAX_WAIT_SECONDS.

    Each message carries the time it was sent (core/celery.py); a job given a countdown counts
    from the time it became due. Only Redis lets a queue be read without taking from it; on
    another broker this check passes.
    """
    from core.celery import QUEUED_AT_HEADER, app
    from core.embedded_broker import REDIS_SCHEMES

    if not str(settings.CELERY_BROKER_URL).startswith(REDIS_SCHEMES):
        return
    oldest = oldest_waiting_since(app, QUEUED_AT_HEADER)
    if oldest is not None and time.time() - oldest > settings.QUEUE_MAX_WAIT_SECONDS:
        raise RuntimeError(f"a job has waited {time.time() - oldest:.0f} s for a worker")


def oldest_waiting_since(app: Any, header: str) -> float | None:
    """When the job next in line on any queue was sent (or became due), as a Unix time."""
    oldest: float | None = None
    with app.connection_for_read() as conn:
        channel: Any = conn.default_channel
        client = channel.client
        for queue in settings.CELERY_TASK_QUEUES:
            for priority in channel.priority_steps:
                raw = client.lindex(channel._q_for_pri(queue.name, priority), -1)
                if raw is None:
                    continue
                since = _waiting_since(raw, header)
                if since is not None and (oldest is None or since < oldest):
                    oldest = since
    return oldest


def _waiting_since(raw: bytes, header: str) -> float | None:
    try:
        headers = json.loads(raw).get("headers") or {}
        since = float(headers[header])
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    eta = headers.get("eta")
    if eta:
        with contextlib.suppress(ValueError):
            since = max(since, datetime.fromisoformat(str(eta)).timestamp())
    return since


def check_storage() -> None:
    name = f"health/{uuid.uuid4().hex}.txt"
    payload = b"pagecast health check"
    saved = default_storage.save(name, ContentFile(payload))
    try:
        with default_storage.open(saved, "rb") as handle:
            if handle.read() != payload:
                raise RuntimeError("storage returned different bytes")
    finally:
        default_storage.delete(saved)


def _timed(name: str, check: Callable[[], None]) -> CheckResult:
    started = time.perf_counter()
    try:
        check()
        ok = True
    except Exception:
        # The cause goes to the log; the answer only names the failing check.
        logger.exception("Health check %s failed", name)
        ok = False
    finally:
        # Health checks run in pool threads: close their database connections.
        connection.close()
    return CheckResult(name, ok, (time.perf_counter() - started) * 1000)


def run_checks() -> list[CheckResult]:
    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    futures = {
        name: _executor.submit(_timed, name, import_string(path))
        for name, path in settings.HEALTH_CHECKS.items()
    }
    results = []
    deadline = time.monotonic() + timeout
    for name, future in futures.items():
        try:
            results.append(future.result(timeout=max(deadline - time.monotonic(), 0.01)))
        except FutureTimeout:
            logger.error("Health check %s timed out after %.1f s", name, timeout)
            results.append(CheckResult(name, False, timeout * 1000))
    return results
