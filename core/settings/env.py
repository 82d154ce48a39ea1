"""Typed readers for settings from the environment.

A bad value stops start-up with a message that names the variable, instead of surfacing later as
an obscure error deep inside a request.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import environ
from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

_MISSING = object()


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None else value.strip()


def _parse(name: str, parser: Callable[[str], T], default: T | object, kind: str) -> T:
    raw = _raw(name)
    if raw is None or raw == "":
        if default is _MISSING:
            raise ImproperlyConfigured(f"Set the environment variable {name} ({kind}).")
        return default  # type: ignore[return-value]
    try:
        return parser(raw)
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a valid {kind}.") from exc


def env_str(name: str, default: str | object = _MISSING) -> str:
    return _parse(name, str, default, "string")


def env_bool(name: str, default: bool | object = _MISSING) -> bool:
    def parse(raw: str) -> bool:
        lowered = raw.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(raw)

    return _parse(name, parse, default, "boolean (true/false)")


def env_int(
    name: str,
    default: int | object = _MISSING,
    *,
    min_value: int | None = None,
    max_value: int | None = None,
) -> int:
    def parse(raw: str) -> int:
        value = int(raw.replace("_", ""))
        if min_value is not None and value < min_value:
            raise ValueError(raw)
        if max_value is not None and value > max_value:
            raise ValueError(raw)
        return value

    bounds = [
        *([f"≥ {min_value}"] if min_value is not None else []),
        *([f"≤ {max_value}"] if max_value is not None else []),
    ]
    kind = " ".join(["integer", *bounds])
    return _parse(name, parse, default, kind)


def env_float(
    name: str, default: float | object = _MISSING, *, min_value: float | None = None
) -> float:
    def parse(raw: str) -> float:
        value = float(raw)
        if min_value is not None and value < min_value:
            raise ValueError(raw)
        return value

    kind = "number" if min_value is None else f"number ≥ {min_value}"
    return _parse(name, parse, default, kind)


def env_list(name: str, default: Sequence[str] | object = _MISSING) -> list[str]:
    def parse(raw: str) -> list[str]:
        return [item.strip() for item in raw.split(",") if item.strip()]

    value = _parse(name, parse, default, "comma-separated list")
    return list(value)


def env_choice(name: str, choices: Sequence[str], default: str | object = _MISSING) -> str:
    def parse(raw: str) -> str:
        if raw not in choices:
            raise ValueError(raw)
        return raw

    return _parse(name, parse, default, "one of " + ", ".join(choices))


def env_path(name: str, default: Path | object = _MISSING) -> Path:
    return _parse(name, lambda raw: Path(raw).expanduser().resolve(), default, "path")


SUPPORTED_DATABASE_ENGINES = {"django.db.backends.sqlite3", "django.db.backends.postgresql"}


def env_db_url(name: str, default: str) -> dict[str, object]:
    raw = _raw(name) or default
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # django-environ warns on unknown schemes; we raise
            config: dict[str, object] = environ.Env.db_url_config(raw)
    except (ImproperlyConfigured, ValueError, KeyError) as exc:
        raise ImproperlyConfigured(f"{name} is not a valid database URL.") from exc
    if config.get("ENGINE") not in SUPPORTED_DATABASE_ENGINES:
        raise ImproperlyConfigured(
            f"{name} must be a PostgreSQL (postgres://) or SQLite (sqlite:///) URL."
        )
    return config


def env_email_url(name: str) -> dict[str, object] | None:
    raw = _raw(name)
    if not raw:
        return None
    try:
        config: dict[str, object] = environ.Env.email_url_config(raw)
    except (ImproperlyConfigured, ValueError, KeyError) as exc:
        raise ImproperlyConfigured(f"{name} is not a valid email URL.") from exc
    return config


def env_oauth_client(prefix: str) -> tuple[str, str] | None:
    """`<prefix>_CLIENT_ID` and `<prefix>_CLIENT_SECRET`: both set, or neither (None)."""
    client_id = env_str(f"{prefix}_CLIENT_ID", "")
    secret = env_str(f"{prefix}_CLIENT_SECRET", "")
    if bool(client_id) != bool(secret):
        missing = f"{prefix}_CLIENT_SECRET" if client_id else f"{prefix}_CLIENT_ID"
        raise ImproperlyConfigured(
            f"Set {missing} too: a sign-in provider needs both its client id and its secret."
        )
    return (client_id, secret) if client_id else None
