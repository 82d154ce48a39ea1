"""`pagecast serve`: migrate, then run the broker, web, worker and beat under a supervisor.

The processes are the `Procfile`'s, plus (without CELERY_BROKER_URL) the embedded Valkey server
of core/embedded_broker.py and (with SQLite) core/sqlite_keeper.py, which keeps the database
readable on a full disk. supervisord (the `supervisor` package) runs them: a process that
exits is started again at once, and one that keeps failing to start is retried with a growing
pause (1 s, 2 s, 3 s…), each with a log line naming it; the others go on serving. Ctrl-C stops
them all, the broker last.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import environ

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROCFILE = PROJECT_DIR / "Procfile"
# A process that fails this many starts in a row (each within START_SECONDS) is given up on;
# the pauses between tries grow by a second each time, about 80 minutes in all.
START_RETRIES = 100
START_SECONDS = 3
# Seconds a process has to stop after SIGTERM before it is killed (a worker finishing a job).
STOP_SECONDS = {"worker": 30, "web": 25}


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


def procfile_processes(text: str) -> dict[str, str]:
    """`name: command` lines of a Procfile, in order."""
    processes = {}
    for line in text.splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_-]+):\s*(.+)", line.strip())
        if match:
            processes[match.group(1)] = match.group(2)
    return processes


def _program(name: str, command: str, *, priority: int) -> str:
    # supervisord expands %(…)s in its configuration: a literal % is written %%.
    escaped = command.replace("%", "%%").replace('"', '\\"')
    return "\n".join(
        [
            f"[program:{name}]",
            f'command=/bin/sh -c "{escaped}"',
            f"directory={PROJECT_DIR}",
            f"priority={priority}",
            "autostart=true",
            "autorestart=true",
            f"startsecs={START_SECONDS}",
            f"startretries={START_RETRIES}",
            "stopsignal=TERM",
            f"stopwaitsecs={STOP_SECONDS.get(name, 10)}",
            # The whole group: a worker's pool processes and a shell's child stop with it.
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            "stdout_logfile=/dev/stdout",
            "stdout_logfile_maxbytes=0",
            f'environment=PAGECAST_PROCESS="{name}"',
            "",
        ]
    )


def sqlite_database(env: dict[str, str]) -> Path | None:
    """The SQLite database's file, or None when the database is not SQLite."""
    url = env.get("DATABASE_URL", "")
    if not url:
        return Path(env["DATA_DIR"]) / "db.sqlite3"
    if not url.startswith("sqlite:"):
        return None
    return Path(str(environ.Env.db_url_config(url)["NAME"]))


def supervisor_config(
    env: dict[str, str], *, embedded_broker: bool, sqlite: Path | None = None
) -> str:
    run_dir = Path(env["DATA_DIR"]) / "run"
    python = sys.executable
    sections = [
        "\n".join(
            [
                "[supervisord]",
                "nodaemon=true",
                # supervisord's own lines (spawned, exited, gave up) go to the terminal too.
                "logfile=/dev/stdout",
                "logfile_maxbytes=0",
                "loglevel=info",
                f"pidfile={run_dir / 'supervisord.pid'}",
                f"childlogdir={run_dir}",
                "",
            ]
        )
    ]
    others = procfile_processes(PROCFILE.read_text())
    wait = ""
    if embedded_broker:
        sections.append(
            _program("broker", f"exec {python} -m core.embedded_broker serve", priority=10)
        )
        # The others start once the broker answers, instead of failing their first requests.
        wait = f"{python} -m core.embedded_broker wait && "
    if sqlite is not None:
        sections.append(
            _program(
                "dbkeeper",
                f"exec {python} -m core.sqlite_keeper {shlex.quote(str(sqlite))}",
                priority=20,
            )
        )
    for index, (name, command) in enumerate(others.items()):
        # `exec` makes the process itself the one supervised; `env` keeps a Procfile line's
        # leading VAR=value assignments working after it.
        runner = "exec env " if re.match(r"[A-Za-z_][A-Za-z0-9_]*=", command) else "exec "
        sections.append(_program(name, f"{wait}{runner}{command}", priority=100 + index))
    return "\n".join(sections)


def serve() -> int:
    env = prepare_environment()
    python = sys.executable
    migrate = [python, str(PROJECT_DIR / "manage.py"), "migrate", "--noinput", "-v", "0"]
    result = subprocess.run(migrate, env=env, cwd=PROJECT_DIR, check=False)  # noqa: S603
    if result.returncode != 0:
        print("Database migration failed; see the messages above.", file=sys.stderr)
        return result.returncode
    run_dir = Path(env["DATA_DIR"]) / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    config = run_dir / "supervisord.conf"
    config.write_text(
        supervisor_config(
            env, embedded_broker=not env.get("CELERY_BROKER_URL"), sqlite=sqlite_database(env)
        )
    )
    url = f"http://127.0.0.1:{env['PORT']}/"
    print(
        f"Pagecast is starting at {url} (data in {env['DATA_DIR']}). Press Ctrl-C to stop.",
        flush=True,
    )
    supervisord = str(Path(python).parent / "supervisord")
    # supervisord takes this process's place: Ctrl-C reaches it alone (it starts each process in
    # a group of its own) and it stops them in order, the broker last.
    os.execve(supervisord, [supervisord, "--configuration", str(config)], env)  # noqa: S606
    return 0  # pragma: no cover


if __name__ == "__main__":
    sys.exit(serve())
