"""Growth curves: how the cost of the document list, PDF extraction and synthesis grows with size.

Each point is measured beside the baseline its headline figure uses, at the same size (the bare
SQL, raw pypdfium2, raw Piper), so that the ratio shows whether Pagecast's own overhead grows with
size. Names follow one pattern, `growth_<curve>_<unit>_n<size>`, which bench/chart.py draws.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from django.conf import settings

from bench.harness import Figure, interleaved_p50, p50
from bench.texts import text_of_length
from users.models import User

DOC_LIST_SIZES = (10, 100, 1_000, 10_000)
EXTRACT_SIZES = (10, 100, 1_000)
SYNTH_SIZES = (500, 3_000, 20_000)
# A 20,000-character page takes Piper about a minute and a half each way: one round there.
SYNTH_ROUNDS = {500: 3, 3_000: 3, 20_000: 1}
# The largest point is measured without its raw-Piper baseline: a minute and a half of Piper
# more would push `make bench` past ten minutes, and the curve is about the task's growth.
SYNTH_WITHOUT_BASELINE = {20_000}


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
    from bench.figures_documents import extraction_seconds, raw_pdfium_seconds
    from document_processing.tests.extractors.pdf_samples import benchmark_pdf

    owner = User.objects.create_user(email="bench-growth-pdf@example.com", password="bench pw 1")
    figures = []
    with tempfile.TemporaryDirectory() as folder:
        for index, size in enumerate(sizes):
            data = benchmark_pdf(size)
            path = Path(folder) / f"growth-{size}.pdf"
            path.write_bytes(data)
            if index == 0:  # warm-up: imports, the first child process
                raw_pdfium_seconds(path)
                extraction_seconds(owner, data)
            raw, task = [], []
            for _ in range(rounds):
                seconds, pages = raw_pdfium_seconds(path)
                assert pages == size, pages
                raw.append(seconds)
                seconds, pages = extraction_seconds(owner, data)
                assert pages == size, pages
                task.append(seconds)
            figures.append(
                Figure(
                    f"growth_extract_s_n{size}", round(p50(task), 4), "s", round(p50(raw), 4),
                    note=f"seconds of the extraction service on a {size:,}-page text PDF vs a "
                    f"raw pypdfium2 loop on the same file; median of {rounds}",
                    target="reported",
                )
            )  # fmt: skip
    return figures


def growth_synthesis(
    sizes: Sequence[int] = SYNTH_SIZES, *, rounds: dict[int, int] | None = None
) -> list[Figure]:
    from bench.figures_speech import ROUNDS, measure_synthesis

    rounds = rounds or SYNTH_ROUNDS
    figures = []
    for size in sizes:
        text = text_of_length(size, at_most=settings.PAGE_MAX_CHARS)
        count = rounds.get(size, ROUNDS)
        with_raw = size not in SYNTH_WITHOUT_BASELINE
        runs = measure_synthesis(text, rounds=count, raw=with_raw)
        audio = p50(runs.task_audio_s)
        figures.append(
            Figure(
                f"growth_synth_s_n{size}", round(p50(runs.task_s), 3), "s",
                round(p50(runs.raw_s), 3) if with_raw else None,
                note=f"seconds of the synthesis task on a {len(text):,}-character page "
                f"({audio:.0f} s of audio)"
                + (" vs raw PiperVoice.synthesize on the same text; " if with_raw else "; ")
                + (f"median of {count}" if count > 1 else "one round"),
                target="reported",
            )
        )  # fmt: skip
    return figures


FIGURES: list[Callable[[], list[Figure]]] = [growth_doc_list, growth_extraction, growth_synthesis]
