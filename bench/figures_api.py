"""Figures over HTTP: the audio status endpoint under gunicorn beside a bare Django view."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings

from bench.client import Session, Tally, drive
from bench.harness import Figure, paired_round
from bench.load import seed
from bench.server import Server, gunicorn

CLIENTS = 8
# Hundreds of requests a round on either side: enough for a rate; the rounds' median does the rest.
SECONDS = 1.0
ROUNDS = 5


def _requests_per_s(
    server: Server, path: str, token: str, *, clients: int, seconds: float
) -> float:
    def poll(session: Session, user: int) -> None:
        session.get(path)

    tally: Tally = drive(
        host=server.host, port=server.port, users=clients, scenario=poll, seconds=seconds,
        headers=lambda user: {"Authorization": f"Token {token}"},
    )  # fmt: skip
    assert tally.errors == 0, tally.error_samples
    return tally.ok / tally.elapsed_s


def api_status_rps(
    *, clients: int = CLIENTS, seconds: float = SECONDS, rounds: int = ROUNDS
) -> list[Figure]:
    (listener,) = seed(users=1, documents=1, audio_bytes=1024, prefix="bench-api")
    _, audio_id = listener.pages[0]
    status, bare = f"/api/v1/audios/{audio_id}/", "/bench/bare/"
    values, baselines = [], []
    with gunicorn(data_dir=settings.DATA_DIR) as server:
        for path in (status, bare):  # warm-up
            _requests_per_s(server, path, listener.token, clients=clients, seconds=seconds / 2)
        for _ in range(rounds):
            values.append(
                _requests_per_s(server, status, listener.token, clients=clients, seconds=seconds)
            )
            baselines.append(
                _requests_per_s(server, bare, listener.token, clients=clients, seconds=seconds)
            )
    # Each round's status figure beside the bare view's right after it: the round with the
    # median ratio, not medians of each side taken apart (a busy second of the shared machine
    # would otherwise pair one side's quiet round with the other's busy one).
    value, baseline = paired_round(values, baselines, by=lambda value, bare: value / bare)
    return [
        Figure(
            "api_status_rps", round(value, 1), "requests/s", round(baseline, 1),
            note=f"GET /api/v1/audios/{{id}}/ (token auth, access policy, serialisation) vs a bare "
            f"Django JSON view, both under the same gunicorn ({server.workers} workers x "
            f"{server.threads} threads) on 127.0.0.1 with {clients} keep-alive clients in one "
            f"process on the same machine; {rounds} rounds of {seconds:g} s, each side in turn: "
            "the round with the median ratio",
            target="ratio ≥ 0.5",
        )
    ]  # fmt: skip


FIGURES: list[Callable[[], list[Figure]]] = [api_status_rps]
