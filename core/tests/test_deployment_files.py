"""Docker cannot run here, so the deployment files are checked for what can be checked."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_the_procfile_runs_web_worker_and_beat_on_both_queues() -> None:
    processes = procfile()
    assert set(processes) == {"web", "worker", "beat"}
    assert processes["web"].startswith("gunicorn core.wsgi:application")
    assert "--queues default,documents,speech" in processes["worker"]
    assert "celery -A core beat" in processes["beat"]


def test_the_compose_file_parses_and_mirrors_the_procfile() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"web", "worker", "beat", "db", "redis", "s3"} <= set(services)
    processes = procfile()
    for name in ("web", "worker", "beat"):
        # The same program and subcommand as the Procfile line (whose worker line starts with
        # an environment assignment).
        command = shlex.split(services[name]["command"])[:3]
        process = [word for word in shlex.split(processes[name]) if "=" not in word][:3]
        assert command == process, name
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgres://")
        assert environment["CELERY_BROKER_URL"].startswith("redis://")
        assert environment["STORAGE_BACKEND"] == "s3"
    assert "--queues default,documents,speech" in services["worker"]["command"]


def test_the_dockerfile_installs_from_the_lock_file_and_runs_the_web_process() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "uv sync --frozen --no-dev" in dockerfile
    assert "collectstatic" in dockerfile
    assert re.search(r'CMD \["gunicorn", "core.wsgi:application"', dockerfile)
    assert "USER pagecast" in dockerfile


def test_collectstatic_works_with_production_settings(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    env.update(
        DJANGO_SETTINGS_MODULE="core.settings.production",
        SECRET_KEY="collectstatic-only-" + "k3y" * 20,
        ALLOWED_HOSTS="localhost",
        DATA_DIR=str(tmp_path),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = tmp_path / "static" / "staticfiles.json"
    assert manifest.exists()
    assert "pagecast.css" in manifest.read_text()
