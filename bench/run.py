"""Run every benchmark figure and write bench/results.json.

Each figure is the median of several rounds after a warm-up, measured beside its baseline in the
same process, so that a noisy shared machine affects both alike.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

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


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)

    from bench import figures_core, figures_documents, figures_speech
    from bench.harness import Figure

    groups = [figures_core.FIGURES, figures_documents.FIGURES, figures_speech.FIGURES]
    only = set(sys.argv[1:])
    figures: list[Figure] = []
    for group in groups:
        for measure in group:
            if only and measure.__name__ not in only:
                continue
            started = time.perf_counter()
            figures.extend(measure())
            print(
                f"  {measure.__name__} took {time.perf_counter() - started:.1f} s", file=sys.stderr
            )
    rows = [figure.as_json() for figure in figures]
    if only and RESULTS.exists():
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
