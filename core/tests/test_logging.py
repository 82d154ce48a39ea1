from __future__ import annotations

import json
import logging

import pytest

from core.logging import REDACTED, JsonFormatter, RedactSecretsFilter, redact


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("key AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE"),
        ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
        ("secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY here", "wJalrXUtnFEMI"),
        ('{"password": "hunter2hunter2"}', "hunter2"),
        ("Authorization: Token 0123456789abcdef0123456789abcdef01234567", "0123456789abcdef"),
        ("Authorization: Bearer sk-live-abcdefghijklmnop", "sk-live"),
        ("Cookie: sessionid=abc123def456; csrftoken=zzz999yyy888", "abc123def456"),
        ("postgres://pagecast:s3cr3tpw@db.internal:5432/pagecast", "s3cr3tpw"),
        ("redis://:hunter2hunter2@cache:6379/0", "hunter2hunter2"),
    ],
)
def test_redact_removes_secrets(text: str, secret: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned
    assert REDACTED in cleaned


def test_redact_keeps_ordinary_text() -> None:
    text = "Document 42 finished extracting 12 pages in 0.8 s"
    assert redact(text) == text


def test_filter_redacts_arguments_tracebacks_and_the_secret_key(settings: object) -> None:
    record_filter = RedactSecretsFilter()
    secret_key = settings.SECRET_KEY  # type: ignore[attr-defined]
    try:
        raise RuntimeError(f"boom with {secret_key}")
    except RuntimeError:
        import sys

        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "failed with %s", ("AKIAIOSFODNN7EXAMPLE",), exc_info
    )
    assert record_filter.filter(record)
    assert "AKIAIOSFODNN7EXAMPLE" not in record.getMessage()
    assert record.exc_text is not None
    assert secret_key not in record.exc_text
    assert "RuntimeError" in record.exc_text


def test_json_formatter_writes_one_object_per_line() -> None:
    record = logging.LogRecord("pagecast", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    record.error_id = "abc"
    line = JsonFormatter().format(record)
    payload = json.loads(line)
    assert payload["message"] == "hello world"
    assert payload["error_id"] == "abc"
    assert payload["level"] == "INFO"


def test_file_paths_in_tracebacks_are_not_mistaken_for_secrets() -> None:
    text = 'File "/srv/venv/lib/python3.11/site-packages/django/core/cache/backends/base.py"'
    assert redact(text) == text
