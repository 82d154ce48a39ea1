"""`pagecast serve`: migrate, then run web, worker and beat from the Procfile in one terminal.

Ctrl-C stops all of them (honcho forwards the signal to each process).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def prepare_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "core.settings.dev")
    env.setdefault("PORT", "8000")
    data_dir = Path(env.get("DATA_DIR") or PROJECT_DIR / "var").resolve()
    (data_dir / "static").mkdir(parents=True, exist_ok=True)
    env["DATA_DIR"] = str(data_dir)
    # The processes find each other's binaries in the same virtual environment.
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def serve() -> int:
    env = prepare_environment()
    python = sys.executable
    migrate = [python, str(PROJECT_DIR / "manage.py"), "migrate", "--noinput", "-v", "0"]
    result = subprocess.run(migrate, env=env, cwd=PROJECT_DIR, check=False)  # noqa: S603
    if result.returncode != 0:
        print("Database migration failed; see the messages above.", file=sys.stderr)
        return result.returncode
    url = f"http://127.0.0.1:{env['PORT']}/"
    print(f"Pagecast is starting at {url} (data in {env['DATA_DIR']}). Press Ctrl-C to stop.")
    honcho = str(Path(python).parent / "honcho")
    command = [honcho, "start", "--procfile", str(PROJECT_DIR / "Procfile")]
    try:
        return subprocess.call(command, env=env, cwd=PROJECT_DIR)  # noqa: S603
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(serve())
