"""Health probes of operations: is some worker alive (see operations/workers.py)."""

from __future__ import annotations

from operations import workers


def check_worker() -> None:
    if not workers.live_workers().exists():
        raise RuntimeError("no worker has reported in within WORKER_LOST_SECONDS")
