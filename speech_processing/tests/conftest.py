from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from speech_processing import voices


@pytest.fixture(autouse=True)
def _fresh_engines() -> Iterator[None]:
    """Engines are built once per process; tests that change SPEECH_ENGINES start afresh."""
    voices.reset_caches()
    yield
    voices.reset_caches()


def run_task(task: Any, *args: object) -> Any:
    """Run a task in process as a worker would, retries included (countdowns are skipped).

    Celery runs eager retries itself, but only when eager errors do not propagate.
    """
    conf = task.app.conf
    propagates = conf.task_eager_propagates
    conf.task_eager_propagates = False
    try:
        result = task.apply(args=args)
    finally:
        conf.task_eager_propagates = propagates
    if result.state == "FAILURE":
        raise result.result
    return result
