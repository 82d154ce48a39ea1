"""Run the benchmark figures and write bench/results.json (and bench/growth.png).

Each figure is the median of several rounds after a warm-up, measured beside its baseline in the
same process, so that a noisy shared machine affects both alike.

    python -m bench.run                  # every group (`make bench`)
    python -m bench.run growth load      # some groups, or single figures by function name
    python -m bench.run --list           # the groups and their figures

A partial run replaces its own figures in results.json and keeps the others.
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
from pathlib import Path

from bench.harness import Figure

Measure = Callable[[], list[Figure]]
RESULTS = Path(os.environ.get("BENCH_RESULTS") or Path(__file__).resolve().parent / "results.json")


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
        "api": figures_api.FIGURES,
        "growth": figures_growth.FIGURES,
        "load": load.FIGURES,
        "cli": figures_cli.FIGURES,
        "stream": figures_stream.FIGURES,
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


def main(argv: list[str] | None = None) -> int:
    names = sys.argv[1:] if argv is None else argv
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
    rows = [figure.as_json() for figure in figures]
    if names and RESULTS.exists():
        # A partial run replaces its own figures and keeps the others.
        measured = {row["name"] for row in rows}
        kept = json.loads(RESULTS.read_text())["figures"]
        rows = [row for row in kept if row["name"] not in measured] + rows
    RESULTS.write_text(json.dumps({"figures": rows, "machine": machine()}, indent=2) + "\n")
    print(f"{'figure':32} {'value':>12} {'baseline':>12} {'ratio':>8}  unit")
    for figure in figures:
        baseline = "-" if figure.baseline is None else f"{figure.baseline:.3f}"
        ratio = "-" if figure.ratio is None else f"{figure.ratio:.2f}"
        print(f"{figure.name:32} {figure.value:12.3f} {baseline:>12} {ratio:>8}  {figure.unit}")
    print(f"wrote {RESULTS}")
    from bench.chart import draw_growth

    chart = RESULTS.with_name("growth.png")
    if any(str(row["name"]).startswith("growth_") for row in rows) and draw_growth(rows, chart):
        print(f"wrote {chart}")
    if failed:
        print(f"FAILED: {', '.join(failed)} (see the errors above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
