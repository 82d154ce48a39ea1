"""A small concurrent HTTP client for the benchmarks: one thread and one keep-alive connection per
simulated user, bounded to 127.0.0.1.

Each user records its own latencies and errors (no locks on the hot path); `drive()` merges them.
An error is any answer other than the expected status, or a failed connection, read or timeout.
"""

from __future__ import annotations

import http.client
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

ALLOWED_HOSTS = ("127.0.0.1", "localhost")
# Kept for the report, so a failing run says what failed without flooding it.
MAX_ERROR_SAMPLES = 20


class _Stop(Exception):
    """The run's time is up: the user stops before its next request."""


@dataclass
class Tally:
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def ok(self) -> int:
        return sum(len(samples) for samples in self.latencies_ms.values())

    @property
    def requests(self) -> int:
        return self.ok + self.errors

    def all_latencies(self) -> list[float]:
        return [ms for samples in self.latencies_ms.values() for ms in samples]

    def merge(self, other: Tally) -> None:
        for label, samples in other.latencies_ms.items():
            self.latencies_ms.setdefault(label, []).extend(samples)
        self.errors += other.errors
        room = MAX_ERROR_SAMPLES - len(self.error_samples)
        self.error_samples.extend(other.error_samples[: max(room, 0)])

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.error_samples) < MAX_ERROR_SAMPLES:
            self.error_samples.append(message)


class Session:
    """One simulated user: a keep-alive connection, its headers, and think time between requests."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        headers: Mapping[str, str] | None = None,
        think: tuple[float, float] = (0.0, 0.0),
        deadline: float | None = None,
        timeout: float = 30.0,
        seed: int = 0,
    ) -> None:
        if host not in ALLOWED_HOSTS:
            raise ValueError(f"the benchmark client only talks to 127.0.0.1, not {host!r}")
        self.host, self.port, self.timeout = host, port, timeout
        self.headers = dict(headers or {})
        self.think, self.deadline = think, deadline
        self.random = random.Random(seed)
        self.tally = Tally()
        self._connection: http.client.HTTPConnection | None = None
        self._used = False

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection, self._used = None, False

    def pause(self) -> None:
        """Think time, cut short when the run ends."""
        low, high = self.think
        if high <= 0:
            return
        wait = self.random.uniform(low, high)
        if self.deadline is not None:
            wait = min(wait, self.deadline - time.monotonic())
        if wait > 0:
            time.sleep(wait)

    def get(self, path: str, *, label: str = "", expect: tuple[int, ...] = (200,)) -> bytes | None:
        """The body of a GET when its status is expected; None (and one error counted) otherwise."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise _Stop
        label = label or path
        started = time.perf_counter()
        try:
            status, body = self._exchange(path)
        except (OSError, http.client.HTTPException) as error:
            self.close()
            self.tally.error(f"{label}: {type(error).__name__}: {error}")
            return None
        elapsed_ms = (time.perf_counter() - started) * 1000
        if status not in expect:
            self.tally.error(f"{label}: HTTP {status}")
            return None
        self.tally.latencies_ms.setdefault(label, []).append(elapsed_ms)
        self.pause()
        return body

    def _exchange(self, path: str) -> tuple[int, bytes]:
        # A server may close an idle keep-alive connection at any time; like browsers and urllib3,
        # a request that finds its reused connection closed is sent once more on a new one.
        for attempt in (1, 2):
            reused = self._used
            if self._connection is None:
                self._connection = http.client.HTTPConnection(
                    self.host, self.port, timeout=self.timeout
                )
            try:
                self._connection.request("GET", path, headers=self.headers)
                self._used = True
                response = self._connection.getresponse()
                body = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if reused and attempt == 1:
                    continue
                raise
            if response.will_close:
                self.close()
            return response.status, body
        raise AssertionError("unreachable")  # pragma: no cover


Scenario = Callable[[Session, int], None]


def drive(
    *,
    host: str,
    port: int,
    users: int,
    scenario: Scenario,
    seconds: float | None = None,
    iterations: int | None = None,
    think: tuple[float, float] = (0.0, 0.0),
    headers: Callable[[int], Mapping[str, str]] = lambda user: {},
    timeout: float = 30.0,
) -> Tally:
    """Run `scenario(session, user)` in a loop for each of `users` threads, for `seconds` (then
    each user stops before its next request) or exactly `iterations` times each."""
    if (seconds is None) == (iterations is None):
        raise ValueError("give either seconds or iterations")
    started = time.monotonic()
    deadline = None if seconds is None else started + seconds
    sessions = [
        Session(host, port, headers=headers(user), think=think, deadline=deadline,
                timeout=timeout, seed=user)
        for user in range(users)
    ]  # fmt: skip

    def run(user: int, session: Session) -> None:
        # Users arrive spread over one think time rather than all in the same millisecond.
        if think[1] > 0:
            time.sleep(session.random.uniform(0, think[1]))
        done = 0
        try:
            while iterations is None or done < iterations:
                scenario(session, user)
                done += 1
        except _Stop:
            pass
        except Exception as error:  # a bug in the scenario still ends the run with a count
            session.tally.error(f"scenario: {type(error).__name__}: {error}")
        finally:
            session.close()

    threads = [
        threading.Thread(target=run, args=(user, session), daemon=True)
        for user, session in enumerate(sessions)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = Tally(elapsed_s=time.monotonic() - started)
    for session in sessions:
        total.merge(session.tally)
    return total
