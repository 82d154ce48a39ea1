"""Health probes of operations, from the workers' reports (see operations/workers.py): is some
worker alive, and does some live worker speak with the default voice.

Web processes never synthesise, so they load no speech engine to answer `tts`: the workers
try their default voice and report how it went.
"""

from __future__ import annotations

from django.conf import settings

from operations import workers


def check_worker() -> None:
    if not workers.live_workers().exists():
        raise RuntimeError("no worker has reported in within WORKER_LOST_SECONDS")


def check_tts() -> None:
    state = workers.engine_state(voice=str(settings.SPEECH_DEFAULT_VOICE))
    if not state.ok:
        # The log says which voice and why; the answer only names the check.
        raise RuntimeError(state.detail)
