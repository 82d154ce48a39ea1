"""Helpers that take a dependency away for the length of a block, as a real outage would."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from core.celery import app


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def assert_never_connected(sock: socket.socket) -> None:
    """Nothing connected to the listening socket (the `listener` fixture)."""
    readable, _, _ = select.select([sock], [], [], 0.05)
    assert readable == []
    with pytest.raises(BlockingIOError):
        sock.accept()


@contextmanager
def broker_down() -> Iterator[None]:
    """Tasks are sent, as a web process sends them, to a broker that refuses connections.

    Connections already made to the usual broker are set aside meanwhile and the ones made to
    the dead address are closed afterwards, so no later test inherits them.
    """
    url = f"redis://127.0.0.1:{closed_port()}/0"
    with pytest.MonkeyPatch.context() as patch:
        # Celery reads CELERY_BROKER_URL from the environment before its own setting.
        patch.setenv("CELERY_BROKER_URL", url)
        patch.setitem(app.conf, "broker_url", url)
        patch.setitem(app.conf, "task_always_eager", False)
        patch.setattr(app, "_pool", None)
        patch.setattr(app.amqp, "_producer_pool", None)
        try:
            yield
        finally:
            pool: Any = app.pool
            pool.force_close_all()
