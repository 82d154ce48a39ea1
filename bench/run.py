"""Run the benchmark figures and write bench/results.json (and bench/growth.png).

Each figure is the median of several rounds after a warm-up, measured beside its baseline in the
same process, so that a noisy shared machine affects both alike.

    python -m bench.run                  # every group (`make bench`)
    python -m bench.run growth load      # some groups, or single figures by function name
    python -m bench.run --quick          # every group once, small (`make bench-quick`)
    python -m bench.run --quick load     # ... or some of them
    python -m bench.run --list           # the groups and their figures

A partial run replaces its own figures in results.json and keeps the others. A quick run measures
each figure once at the small sizes of QUICK, for development: its figures' notes start with
"quick: " and go to bench/results-quick.json (never results.json), and no chart is drawn.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from bench import stack
from bench.harness import Figure

# A figure's function takes its sizes as keyword arguments, the full ones by default.
Measure = Callable[..., list[Figure]]
RESULTS = Path(os.environ.get("BENCH_RESULTS") or Path(__file__).resolve().parent / "results.json")
QUICK_RESULTS_NAME = "results-quick.json"
QUICK_NOTE = "quick: "

# The sizes of a quick run, by figure function: one round each, the largest sizes dropped, short
# texts, a few users for a few seconds. The figures keep their names and baselines.
QUICK: dict[str, dict[str, object]] = {
    "health_p50": {"runs": 20, "rounds": 1},
    "web_rss_mb": {"requests": 40},
    "document_list": {"size": 100, "runs": 10, "rounds": 1, "tail_runs": 40},
    "library_page": {"size": 100, "runs": 10, "rounds": 1},
    "pdf_extraction": {"pages": 20, "rounds": 1},
    "synthesis": {"chars": 500, "rounds": 1},
    "worker_memory": {"chars": 500},
    "api_status_rps": {"clients": 4, "seconds": 0.5, "rounds": 1},
    "growth_doc_list": {"sizes": (10, 100), "runs": 5, "rounds": 1},
    "growth_extraction": {"sizes": (10, 100), "rounds": 1},
    "growth_synthesis": {"sizes": (500,), "rounds": {500: 1}},
    "load": {"users": 10, "seconds": 3.0},
    "cli_convert": {"pages": 1, "rounds": 1},
    "first_audio": {"chars": 500, "rounds": 1},
    "live_listeners": {"listeners": 20, "chars": 500},
    "listen_in_browser": {"documents": 1, "pages": 2, "rounds": 1},
}


def machine() -> dict[str, object]:
    import django

    return {
        "python": platform.python_version(),
        "django": django.get_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "database": os.environ.get("DATABASE_URL", "sqlite").split("://")[0],
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def setup() -> Callable[[], None]:
    """Django on the bench settings with a scratch database; returns the clean-up.

    SQLite lives in the scratch data folder. On PostgreSQL a scratch database is created beside
    the one DATABASE_URL names (and dropped afterwards), so a benchmark never writes into real
    data; servers and workers started later find it through BENCH_DATABASE_NAME.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    data_dir = Path(settings.DATA_DIR)
    # Only the folder bench.settings made for this process, never one it was handed.
    scratch = "BENCH_DATA_DIR" not in os.environ and data_dir.name.startswith("pagecast-bench-")
    # The embedded default's broker and cache, as `make run` starts them (unless CELERY_BROKER_URL
    # names another), shared by the servers and workers the benchmarks start.
    from core import embedded_broker  # (importing `core` sets up Celery for these settings)

    services = ExitStack()
    if settings.EMBEDDED_BROKER:
        services.enter_context(embedded_broker.running(data_dir))
    # The web server and worker the listening figures share go before the broker.
    services.callback(stack.close)
    if connection.vendor == "sqlite":
        call_command("migrate", verbosity=0, interactive=False)
        old_name = None
    else:
        old_name = str(settings.DATABASES["default"]["NAME"])
        os.environ["BENCH_DATABASE_NAME"] = connection.creation.create_test_db(
            verbosity=0, autoclobber=True, serialize=False
        )

    def teardown() -> None:
        services.close()
        if old_name is not None:
            connection.creation.destroy_test_db(old_name, verbosity=0)
            os.environ.pop("BENCH_DATABASE_NAME", None)
        connection.close()
        if scratch:
            shutil.rmtree(data_dir, ignore_errors=True)

    return teardown


def groups() -> dict[str, list[Measure]]:
    from bench import (
        figures_api,
        figures_cli,
        figures_core,
        figures_documents,
        figures_growth,
        figures_listen,
        figures_live,
        figures_speech,
        figures_stream,
        figures_web,
        load,
    )

    return {
        "core": figures_core.FIGURES,
        "web": figures_web.FIGURES,
        "documents": figures_documents.FIGURES,
        "speech": figures_speech.FIGURES,
        # Right after speech: the synthesis growth curve goes on from synth_rtf's rounds.
        "growth": figures_growth.FIGURES,
        "api": figures_api.FIGURES,
        "load": load.FIGURES,
        "cli": figures_cli.FIGURES,
        "stream": [*figures_stream.FIGURES, *figures_live.FIGURES],
        "listen": figures_listen.FIGURES,
    }


def select(available: dict[str, list[Measure]], names: list[str]) -> list[Measure]:
    """The measures named by group or by function, in the groups' order; all when none named."""
    known = {measure.__name__ for group in available.values() for measure in group}
    unknown = [name for name in names if name not in available and name not in known]
    if unknown:
        raise SystemExit(
            f"unknown group or figure: {', '.join(unknown)}; groups: {', '.join(available)}"
        )
    chosen = []
    for group_name, group in available.items():
        for measure in group:
            if not names or group_name in names or measure.__name__ in names:
                chosen.append(measure)
    return chosen


def results_path(*, quick: bool) -> Path:
    return RESULTS.with_name(QUICK_RESULTS_NAME) if quick else RESULTS


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    quick = "--quick" in args
    names = [name for name in args if name != "--quick"]
    teardown = setup()
    try:
        available = groups()
        if "--list" in names:
            for group_name, group in available.items():
                print(f"{group_name:10} {' '.join(measure.__name__ for measure in group)}")
            return 0
        measures = select(available, names)
        figures: list[Figure] = []
        failed: list[str] = []
        overall = time.perf_counter()
        for measure in measures:
            started = time.perf_counter()
            try:
                if quick:
                    measured = measure(**QUICK.get(measure.__name__, {}))
                    figures.extend(replace(f, note=QUICK_NOTE + f.note) for f in measured)
                else:
                    figures.extend(measure())
            except Exception:
                # One broken figure must not throw away the minutes the others took.
                traceback.print_exc()
                failed.append(measure.__name__)
            print(
                f"  {measure.__name__} took {time.perf_counter() - started:.1f} s", file=sys.stderr
            )
        print(f"  all took {time.perf_counter() - overall:.1f} s", file=sys.stderr)
    finally:
        teardown()
    results = results_path(quick=quick)
    rows = [figure.as_json() for figure in figures]
    if names and results.exists():
        # A partial run replaces its own figures and keeps the others.
        measured_names = {row["name"] for row in rows}
        kept = json.loads(results.read_text())["figures"]
        rows = [row for row in kept if row["name"] not in measured_names] + rows
    results.write_text(json.dumps({"figures": rows, "machine": machine()}, indent=2) + "\n")
    print(f"{'figure':32} {'value':>12} {'baseline':>12} {'ratio':>8}  unit")
    for figure in figures:
        baseline = "-" if figure.baseline is None else f"{figure.baseline:.3f}"
        ratio = "-" if figure.ratio is None else f"{figure.ratio:.2f}"
        print(f"{figure.name:32} {figure.value:12.3f} {baseline:>12} {ratio:>8}  {figure.unit}")
    print(f"wrote {results}")
    from bench.chart import draw_growth

    chart = results.with_name("growth.png")
    growth = any(str(row["name"]).startswith("growth_") for row in rows)
    # A quick run's curves are too short to draw.
    if not quick and growth and draw_growth(rows, chart):
        print(f"wrote {chart}")
    if failed:
        print(f"FAILED: {', '.join(failed)} (see the errors above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
