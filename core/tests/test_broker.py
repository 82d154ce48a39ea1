"""The embedded file broker: every message is delivered whole and exactly once."""

from __future__ import annotations

import multiprocessing
import queue as queue_module
from pathlib import Path

import pytest
from kombu import Connection

import core.broker  # noqa: F401


def options(folder: Path) -> dict[str, object]:
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "control_folder": str(folder / "control"),
        "processed_folder": str(folder / "processed"),
        "polling_interval": 0.01,
    }


def connect(folder: Path) -> Connection:
    return Connection("pagecastfs://localhost/", transport_options=options(folder))


def test_round_trip_in_order(tmp_path: Path) -> None:
    with connect(tmp_path) as conn:
        simple = conn.SimpleQueue("documents")
        for number in range(5):
            simple.put({"n": number})
        received = []
        for _ in range(5):
            message = simple.get(timeout=2)
            received.append(message.payload["n"])
            message.ack()
        assert received == [0, 1, 2, 3, 4]
        with pytest.raises(simple.Empty):
            simple.get(timeout=0.1)
        simple.close()
    # Nothing is left in the queue, the temporary or the claim folder.
    for folder in ("queue", "tmp", "processed"):
        leftover = [p for p in (tmp_path / folder).glob("*") if not p.name.startswith(".")]
        assert leftover == []


def test_queues_are_separate(tmp_path: Path) -> None:
    with connect(tmp_path) as conn:
        documents = conn.SimpleQueue("documents")
        speech = conn.SimpleQueue("speech")
        documents.put({"q": "documents"})
        speech.put({"q": "speech"})
        assert speech.get(timeout=2).payload == {"q": "speech"}
        assert documents.get(timeout=2).payload == {"q": "documents"}
        documents.close()
        speech.close()


def _produce(folder: str, start: int, count: int) -> None:
    with connect(Path(folder)) as conn:
        simple = conn.SimpleQueue("stress")
        for number in range(start, start + count):
            simple.put({"n": number, "padding": "x" * 2000})
        simple.close()


def _consume(folder: str, results: multiprocessing.Queue, stop_after: float) -> None:
    received = []
    with connect(Path(folder)) as conn:
        simple = conn.SimpleQueue("stress")
        while True:
            try:
                message = simple.get(timeout=stop_after)
            except simple.Empty:
                break
            assert len(message.payload["padding"]) == 2000
            received.append(message.payload["n"])
            message.ack()
        simple.close()
    results.put(received)


def test_concurrent_producers_and_consumers_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = context.Queue()
    producers = [
        context.Process(target=_produce, args=(str(tmp_path), start, 400))
        for start in (0, 400, 800)
    ]
    consumers = [
        context.Process(target=_consume, args=(str(tmp_path), results, 3.0)) for _ in range(3)
    ]
    for process in producers + consumers:
        process.start()
    for process in producers:
        process.join(60)
        assert process.exitcode == 0
    received: list[int] = []
    for _ in consumers:
        try:
            received.extend(results.get(timeout=60))
        except queue_module.Empty:  # pragma: no cover - a consumer crashed
            pytest.fail("a consumer died")
    for process in consumers:
        process.join(10)
        assert process.exitcode == 0
    assert sorted(received) == list(range(1200))
