"""Growth curves: how the cost of the document list, PDF extraction and synthesis grows with size.

Each point is measured beside the baseline its headline figure uses, at the same size (the bare
SQL, raw pypdfium2, raw Piper), so that the ratio shows whether Pagecast's own overhead grows with
size. Names follow one pattern, `growth_<curve>_<unit>_n<size>`, which bench/chart.py draws.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from django.conf import settings

from bench.harness import Figure, interleaved_p50, p50, paired_round
from bench.texts import text_of_length
from users.models import User

DOC_LIST_SIZES = (10, 100, 1_000, 10_000)
EXTRACT_SIZES = (10, 100, 1_000)
SYNTH_SIZES = (500, 3_000, 20_000)
# Each round runs the task and raw Piper side by side, each on a core of its own: one round of a
# long page, one after the other, met two different moments of the shared machine (a run gave
# the task 1.31 of raw at 20,000 characters, the run before it 0.98). A 20,000-character page
# then takes Piper over two minutes on one core: one round there. At 3,000 characters one round
# is five percent either way (about 30 sentences, each timed), which moves the exponent by 0.03:
# three rounds, the very ones `synth_rtf` measures (bench.figures_speech.synthesis). The
# 500-character point is only drawn (mostly the task's fixed costs): two rounds.
SYNTH_ROUNDS = {500: 2, 3_000: 3, 20_000: 1}
# Synthesis grows linearly: at the largest page the task stays within a tenth of raw Piper, and
# its growth exponent between these two sizes is within 1.03 (the 500-character point is mostly
# the task's fixed costs).
SYNTH_TARGETS = {20_000: "ratio ≤ 1.1"}
SYNTH_EXPONENT_SIZES = (3_000, 20_000)
SYNTH_EXPONENT_TARGET = "≤ 1.03"


def growth_doc_list(
    sizes: Sequence[int] = DOC_LIST_SIZES, *, runs: int = 30, rounds: int = 3
) -> list[Figure]:
    from bench.figures_documents import PAGES_PER_DOCUMENT, bare_list_sql, client_for, list_request

    figures = []
    for size in sizes:
        client, owner = client_for(email=f"bench-growth-{size}@example.com", count=size)
        value, baseline = interleaved_p50(
            list_request(client), bare_list_sql(owner), runs=runs, rounds=rounds
        )
        figures.append(
            Figure(
                f"growth_doc_list_ms_n{size}", round(value, 3), "ms", round(baseline, 3),
                note=f"p50 of one page of GET /api/v1/documents/ for an owner of {size:,} "
                f"documents ({PAGES_PER_DOCUMENT} pages, an audio and a share each) vs the bare "
                f"SQL fetching the same rows; median of {rounds} rounds of {runs}",
                target="reported",
            )
        )  # fmt: skip
    return figures


def growth_extraction(sizes: Sequence[int] = EXTRACT_SIZES, *, rounds: int = 3) -> list[Figure]:
    from bench.figures_documents import paired_extractions
    from document_processing.tests.extractors.pdf_samples import benchmark_pdf

    owner = User.objects.create_user(email="bench-growth-pdf@example.com", password="bench pw 1")
    figures = []
    with tempfile.TemporaryDirectory() as folder:
        for index, size in enumerate(sizes):
            task_s, raw_s = paired_extractions(
                owner,
                benchmark_pdf(size),
                Path(folder) / f"growth-{size}.pdf",
                rounds=rounds,
                pages=size,
                warm_up=index == 0,  # imports, the first child process
            )
            task, raw = paired_round(task_s, raw_s, by=lambda task, raw: task / raw)
            figures.append(
                Figure(
                    f"growth_extract_s_n{size}", round(task, 4), "s", round(raw, 4),
                    note=f"seconds of the extraction service on a {size:,}-page text PDF vs a "
                    "raw pypdfium2 loop on the same file, timed one after the other in each "
                    f"round; the round with the median ratio of {rounds}",
                    target="reported",
                )
            )  # fmt: skip
    return figures


def growth_synthesis(
    sizes: Sequence[int] = SYNTH_SIZES, *, rounds: dict[int, int] | None = None
) -> list[Figure]:
    """The synthesis task's seconds at each size beside raw Piper's, and the growth exponent
    between SYNTH_EXPONENT_SIZES (1 is linear) beside raw Piper's."""
    from bench.figures_speech import PAIRED_THREADS, ROUNDS, measure_synthesis

    rounds = rounds or SYNTH_ROUNDS
    figures = []
    # size → (characters, the task's median seconds, raw Piper's, the load averages)
    measured: dict[int, tuple[int, float, float, str]] = {}
    for size in sizes:
        text = text_of_length(size, at_most=settings.PAGE_MAX_CHARS)
        count = rounds.get(size, ROUNDS)
        runs = measure_synthesis(text, rounds=count)
        task, raw = paired_round(runs.task_s, runs.raw_s, by=lambda task, raw: task / raw)
        audio = p50(runs.task_audio_s)
        measured[size] = (len(text), p50(runs.task_s), p50(runs.raw_s), runs.load_note)
        figures.append(
            Figure(
                f"growth_synth_s_n{size}", round(task, 3), "s", round(raw, 3),
                note=f"seconds of the synthesis task on a {len(text):,}-character page "
                f"({audio:.0f} s of audio) vs raw PiperVoice.synthesize on the same text, the "
                f"two side by side, each on a core of its own with {PAIRED_THREADS} onnxruntime "
                "thread; "
                + _rounds_note(count)
                + f"; {runs.load_note}",
                target=SYNTH_TARGETS.get(size, "reported"),
            )
        )  # fmt: skip
    low, high = SYNTH_EXPONENT_SIZES
    if low in measured and high in measured:
        (chars_0, task_0, raw_0, load_0), (chars_1, task_1, raw_1, load_1) = (
            measured[low], measured[high]
        )  # fmt: skip
        size_ratio = math.log(chars_1 / chars_0)
        figures.append(
            Figure(
                "growth_synth_exponent", round(math.log(task_1 / task_0) / size_ratio, 3),
                "exponent", round(math.log(raw_1 / raw_0) / size_ratio, 3),
                note=f"growth exponent of the synthesis task's seconds from {chars_0:,} to "
                f"{chars_1:,} characters, log(t1/t0)/log(n1/n0) (1 is linear; t the median of a "
                f"size's rounds) vs raw Piper's from the same runs; at {chars_0:,}: {load_0}; "
                f"at {chars_1:,}: {load_1}",
                target=SYNTH_EXPONENT_TARGET,
            )
        )  # fmt: skip
    return figures


def _rounds_note(count: int) -> str:
    """Which of a size's rounds its figure is (`paired_round` takes the lower middle one)."""
    if count == 1:
        return "one round"
    which = "median" if count % 2 else "lower" if count == 2 else "lower middle"
    return f"the round with the {which} ratio of {count}"


# Synthesis first: it follows `synth_rtf`, whose 3,000-character rounds it shares (bench.run).
FIGURES: list[Callable[[], list[Figure]]] = [growth_synthesis, growth_doc_list, growth_extraction]
