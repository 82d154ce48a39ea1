"""Log formatting and the filter that keeps secrets out of every log line."""

from __future__ import annotations

import json
import logging
import re
import traceback
from datetime import UTC, datetime
from typing import Any

REDACTED = "[redacted]"

# Patterns for secrets wherever they appear in a message, its arguments or a traceback.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Whole header values: Authorization, Cookie and the like.
    (
        re.compile(
            r"(?i)\b((?:proxy-)?authorization|(?:set-)?cookie|x-api-key)(\s*[:=]\s*)[^\r\n]+"
        ),
        r"\1\2" + REDACTED,
    ),
    # AWS access key ids.
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"), REDACTED),
    # key=value and "key": "value" pairs whose name says secret.
    (
        re.compile(
            r"(?i)([\"']?(?:aws_secret_access_key|secret_access_key|secret_key|secret|password|"
            r"passwd|api_key|apikey|token|access_token|refresh_token|sessionid|csrftoken|"
            r"x-amz-security-token)[\"']?\s*[:=]\s*)"
            r"(\"[^\"]*\"|'[^']*'|[^\s,;&}]+)"
        ),
        r"\1" + REDACTED,
    ),
    # Authorization headers: "Token abc", "Bearer abc", "Basic abc".
    (re.compile(r"(?i)\b(Token|Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    # Passwords inside URLs: scheme://user:password@host
    (
        re.compile(r"([a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+(@)", re.IGNORECASE),
        r"\1" + REDACTED + r"\2",
    ),
    # AWS secret access keys are 40 characters of base64, mixing upper case, lower case and
    # digits (which file paths of the same length do not).
    (
        re.compile(
            r"(?<![A-Za-z0-9/+=.])(?=[A-Za-z0-9/+]{0,39}[0-9])(?=[A-Za-z0-9/+]{0,39}[A-Z])"
            r"(?=[A-Za-z0-9/+]{0,39}[a-z])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
        ),
        REDACTED,
    ),
]


def redact(text: str, extra_secrets: tuple[str, ...] = ()) -> str:
    for secret in extra_secrets:
        if secret and len(secret) >= 8:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _configured_secrets() -> tuple[str, ...]:
    try:
        from django.conf import settings

        values = [getattr(settings, "SECRET_KEY", "")]
        storage: Any = settings.STORAGES.get("default", {})
        values.append(str(storage.get("OPTIONS", {}).get("secret_key") or ""))
        values.extend(getattr(settings, "LOG_REDACT_VALUES", ()))
    except Exception:  # settings not configured (e.g. a bare script)
        return ()
    return tuple(value for value in values if value)


class RedactSecretsFilter(logging.Filter):
    """Rewrites a record's message (arguments merged) and traceback with secrets removed."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _configured_secrets()
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        record.msg = redact(message, secrets)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            text = "".join(traceback.format_exception(*record.exc_info))
            record.exc_text = redact(text, secrets)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info, secrets)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("error_id", "task_id", "document_id", "audio_id"):
            if hasattr(record, key):
                payload[key] = getattr(record, key)
        if record.exc_text:
            payload["exception"] = record.exc_text
        elif record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)
