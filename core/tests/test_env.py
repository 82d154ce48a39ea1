from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from core.settings import env


def test_missing_required_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAGECAST_TEST_VALUE", raising=False)
    with pytest.raises(ImproperlyConfigured, match="PAGECAST_TEST_VALUE"):
        env.env_str("PAGECAST_TEST_VALUE")


def test_defaults_apply_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAGECAST_TEST_VALUE", raising=False)
    assert env.env_int("PAGECAST_TEST_VALUE", 7) == 7
    assert env.env_bool("PAGECAST_TEST_VALUE", True) is True
    assert env.env_list("PAGECAST_TEST_VALUE", ["a"]) == ["a"]


@pytest.mark.parametrize(
    ("reader", "raw"),
    [
        (lambda: env.env_int("PAGECAST_TEST_VALUE", 1), "ten"),
        (lambda: env.env_int("PAGECAST_TEST_VALUE", 1, min_value=1), "0"),
        (lambda: env.env_int("PAGECAST_TEST_VALUE", 1, max_value=3650), "3651"),
        (lambda: env.env_float("PAGECAST_TEST_VALUE", 1.0), "fast"),
        (lambda: env.env_bool("PAGECAST_TEST_VALUE", False), "maybe"),
        (lambda: env.env_choice("PAGECAST_TEST_VALUE", ["local", "s3"], "local"), "ftp"),
        (lambda: env.env_db_url("PAGECAST_TEST_VALUE", "sqlite:///x"), "nosuchdb://x"),
        (lambda: env.env_email_url("PAGECAST_TEST_VALUE"), "nonsense"),
    ],
)
def test_bad_values_stop_with_a_message_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, reader: object, raw: str
) -> None:
    monkeypatch.setenv("PAGECAST_TEST_VALUE", raw)
    with pytest.raises(ImproperlyConfigured, match="PAGECAST_TEST_VALUE"):
        reader()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("YES", True), ("1", True), ("off", False), ("0", False)]
)
def test_booleans(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv("PAGECAST_TEST_VALUE", raw)
    assert env.env_bool("PAGECAST_TEST_VALUE") is expected


def test_lists_and_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAGECAST_TEST_VALUE", " a.example, b.example ,,")
    assert env.env_list("PAGECAST_TEST_VALUE") == ["a.example", "b.example"]
    monkeypatch.setenv("PAGECAST_TEST_VALUE", "52_428_800")
    assert env.env_int("PAGECAST_TEST_VALUE") == 52_428_800
    monkeypatch.setenv("PAGECAST_TEST_VALUE", "3650")
    assert env.env_int("PAGECAST_TEST_VALUE", min_value=1, max_value=3650) == 3650


def test_paths_are_absolute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAGECAST_TEST_VALUE", "relative/dir")
    assert env.env_path("PAGECAST_TEST_VALUE").is_absolute()
    assert env.env_path("PAGECAST_TEST_VALUE") == (Path.cwd() / "relative/dir").resolve()


def test_database_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAGECAST_TEST_VALUE", "postgres://u:p@127.0.0.1:5432/pagecast")
    config = env.env_db_url("PAGECAST_TEST_VALUE", "sqlite:///x")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert config["NAME"] == "pagecast"
