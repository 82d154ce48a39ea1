"""`.env.example` documents every variable the settings read."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READERS = re.compile(
    r"""env_(?:str|bool|int|float|list|choice|path|db_url|email_url)\(\s*["'](\w+)["']"""
)
OS_ENVIRON = re.compile(r"""os\.environ\.get\(\s*["'](\w+)["']""")


def variables_read() -> set[str]:
    names: set[str] = set()
    for path in [*ROOT.glob("core/settings/*.py"), ROOT / "core/gunicorn_conf.py"]:
        text = path.read_text()
        names |= set(READERS.findall(text)) | set(OS_ENVIRON.findall(text))
    return names - {"PAGECAST_TEST_VALUE"}


def test_every_variable_is_documented() -> None:
    documented = set(re.findall(r"^(\w+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    missing = variables_read() - documented
    assert missing == set(), f"add to .env.example: {sorted(missing)}"
    assert len(variables_read()) > 30
