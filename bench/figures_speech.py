"""Figures for speech: the synthesis task against raw Piper, and a worker's memory."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.test import override_settings

from bench.harness import Figure, side_by_side
from bench.texts import text_of_length
from document_processing.models import Document, Page
from speech_processing import services
from speech_processing.engines.piper import PiperEngine
from speech_processing.models import Audio
from speech_processing.voices import get_engine
from users.models import User

VOICE = "en_US-joe-medium"
ROUNDS = 3
CHARS = 3_000  # bench.texts.PAGE_TEXT
# The worker's peak is its voice and one sentence's buffers, not the page: 443 MB at 1,500
# characters against 453 MB at 3,000 on one machine, in 13 s instead of 21.
WORKER_CHARS = 1_500
# Each round of `measure_synthesis`: one onnxruntime thread on each side, each pinned to a core
# of its own (two threads on one core would only take turns).
PAIRED_THREADS = 1
ROOT = Path(__file__).resolve().parent.parent


def _page(owner: User, text: str) -> Page:
    document = Document.objects.create(
        owner=owner, title="bench", source_type=Document.SourceType.TEXT,
        status=Document.Status.COMPLETED, page_count=1,
    )  # fmt: skip
    return Page.objects.create(
        document=document, number=1, markdown=text, text=text, char_count=len(text)
    )


def _raw_piper(engine: PiperEngine, text: str) -> tuple[float, float]:
    """Seconds of work and seconds of audio for Piper's own synthesize() on the whole text."""
    voice = engine.load(VOICE)
    started = time.perf_counter()
    samples = sum(len(chunk.audio_float_array) for chunk in voice.synthesize(text))
    return time.perf_counter() - started, samples / voice.config.sample_rate


def _task_path(page: Page, owner: User) -> tuple[float, float]:
    audio = Audio.objects.create(
        page=page, voice=f"piper:{VOICE}", engine="piper", created_by=owner
    )
    started = time.perf_counter()
    services.synthesize_audio(audio_id=audio.pk)
    elapsed = time.perf_counter() - started
    audio.refresh_from_db()
    assert audio.status == Audio.Status.COMPLETED, audio.error_message
    default_storage.delete(audio.file_key)
    audio.delete()
    return elapsed, float(audio.duration_seconds or 0)


@dataclass(frozen=True)
class SynthesisRuns:
    """Alternating rounds of the synthesis task and raw Piper on one text."""

    chars: int
    task_s: list[float]
    task_audio_s: list[float]
    raw_s: list[float]
    raw_audio_s: list[float]
    # The 1-minute load average when the rounds started and when they ended: one round of a long
    # text on a busy machine says little.
    load: tuple[float, float] = (0.0, 0.0)

    @property
    def load_note(self) -> str:
        return f"load average {self.load[0]:.1f} before, {self.load[1]:.1f} after"

    @property
    def task_rtf(self) -> float:
        return statistics.median(w / a for w, a in zip(self.task_s, self.task_audio_s, strict=True))

    @property
    def raw_rtf(self) -> float:
        return statistics.median(w / a for w, a in zip(self.raw_s, self.raw_audio_s, strict=True))


# Runs already measured in this process, by text and rounds: `synth_rtf` and the synthesis
# growth curve's 3,000-character point are the same measurement, a minute of Piper.
_measured: dict[tuple[str, int], SynthesisRuns] = {}


def measure_synthesis(text: str, *, rounds: int = ROUNDS) -> SynthesisRuns:
    """`rounds` rounds of the synthesis task and raw Piper on `text`, side by side, each on a
    core of its own with one onnxruntime thread (`bench.harness.side_by_side`): both then meet
    the same moment of the shared machine, which a single round of a long text otherwise does
    not. Measured once per process (`_measured`)."""
    if (text, rounds) in _measured:
        return _measured[(text, rounds)]
    email = "bench-speech@example.com"
    owner = User.objects.filter(email=email).first() or User.objects.create_user(
        email=email, password="bench pw 123"
    )
    page = _page(owner, text)
    piper = {**settings.SPEECH_ENGINES["piper"], "threads": PAIRED_THREADS}
    with override_settings(SPEECH_ENGINES={**settings.SPEECH_ENGINES, "piper": piper}):
        engine = get_engine("piper")
        assert isinstance(engine, PiperEngine)
        _raw_piper(engine, "Warm up.")
        load_before = os.getloadavg()[0]
        raw_runs: list[tuple[float, float]] = []
        task_runs: list[tuple[float, float]] = []
        for _ in range(rounds):
            raw, task = partial(_raw_piper, engine, text), partial(_task_path, page, owner)
            # The task in this thread (its database connection is this thread's).
            raw_run, task_run = side_by_side(raw, task)
            raw_runs.append(raw_run)
            task_runs.append(task_run)
    page.document.delete()
    runs = SynthesisRuns(
        len(text), [work for work, _ in task_runs], [audio for _, audio in task_runs],
        [work for work, _ in raw_runs], [audio for _, audio in raw_runs],
        load=(load_before, os.getloadavg()[0]),
    )  # fmt: skip
    _measured[(text, rounds)] = runs
    return runs


def synthesis(*, chars: int = CHARS, rounds: int = ROUNDS) -> list[Figure]:
    text = text_of_length(chars, at_most=settings.PAGE_MAX_CHARS)
    # The growth curve's 3,000-character point is this measurement.
    runs = measure_synthesis(text, rounds=rounds)
    return [
        Figure(
            "synth_rtf", round(runs.task_rtf, 4), "s/s", round(runs.raw_rtf, 4),
            note=f"the synthesis task (claim, normalise, split, Piper per sentence, MP3 at "
            f"{settings.AUDIO_MP3_BITRATE_KBPS} kbps, store, complete) on a {len(text)}-"
            "character page vs raw PiperVoice.synthesize on the same text, same process, the "
            f"two side by side, each on a core of its own with {PAIRED_THREADS} onnxruntime "
            f"thread; median of {rounds} rounds",
            target="ratio ≤ 1.15, value ≤ 0.15",
        )
    ]  # fmt: skip


_WORKER_SCRIPT = """
import json, os, sys
import django
django.setup()
from django.conf import settings
from bench.figures_speech import _page, VOICE
from bench.texts import text_of_length
from speech_processing import services
from speech_processing.models import Audio
from users.models import User
owner = User.objects.create_user(email="bench-worker@example.com", password="bench pw 123")
page = _page(owner, text_of_length(int(sys.argv[1]), at_most=settings.PAGE_MAX_CHARS))
audio = Audio.objects.create(page=page, voice="piper:" + VOICE, engine="piper", created_by=owner)
services.synthesize_audio(audio_id=audio.pk)
# VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over fork and exec, so a child of
# a big bench process would report the parent's size.
with open("/proc/self/status") as status:
    hwm_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"peak_mb": hwm_kb / 1024}))
"""


def worker_memory(*, chars: int = WORKER_CHARS) -> list[Figure]:
    # As the Procfile runs the worker: malloc arenas capped (glibc otherwise keeps one per thread).
    # Over this run's scratch data, whose database is migrated already, as a worker's is.
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="bench.settings",
        PYTHONPATH=str(ROOT),
        MALLOC_ARENA_MAX=os.environ.get("MALLOC_ARENA_MAX", "2"),
        BENCH_DATA_DIR=str(settings.DATA_DIR),
    )
    result = subprocess.run(
        [sys.executable, "-c", _WORKER_SCRIPT, str(chars)], env=env, cwd=ROOT,
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    peak = json.loads(result.stdout.strip().splitlines()[-1])["peak_mb"]
    return [
        Figure(
            "worker_peak_mb", round(peak, 1), "MB", None,
            note="peak RSS of a fresh process that loads the default Piper voice and runs the "
            f"synthesis task on a {chars:,}-character page, with MALLOC_ARENA_MAX=2 as the "
            "Procfile starts workers",
            target="reported",
        )
    ]  # fmt: skip


# `synthesis` last, and the growth group next (bench.run): its 3,000-character rounds are the
# synthesis growth curve's, whose exponent compares them with the 20,000-character round, so the
# two are measured within a minute of each other rather than with other groups between them.
FIGURES: list[Callable[[], list[Figure]]] = [worker_memory, synthesis]
