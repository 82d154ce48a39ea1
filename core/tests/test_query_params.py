"""Whole numbers and search terms from query strings and headers."""

from __future__ import annotations

import pytest

from core.query_params import parse_digits, parse_id, search_term


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0", 0),
        ("42", 42),
        ("007", 7),
        ("9" * 18, 10**18 - 1),
        ("9" * 19, None),  # more digits than an id has
        ("9" * 5000, None),  # more than int() reads at all
        ("", None),
        (None, None),
        ("٣", None),  # Arabic-Indic
        ("\uff13", None),  # fullwidth
        ("²", None),  # isdigit(), but int() refuses it
        ("-1", None),
        ("+1", None),
        (" 1", None),
        ("1_000", None),
        ("1.0", None),
        ("1\x00", None),
    ],
)
def test_digits(raw: str | None, expected: int | None) -> None:
    assert parse_digits(raw) == expected


def test_the_number_of_digits_is_the_callers_to_choose() -> None:
    assert parse_digits("12345", max_digits=4) is None
    assert parse_digits("1234", max_digits=4) == 1234


@pytest.mark.parametrize(("raw", "expected"), [("1", 1), ("0", None), ("00", None), ("x", None)])
def test_ids_start_at_one(raw: str, expected: int | None) -> None:
    assert parse_id(raw) == expected


def test_search_terms_lose_nul_characters_and_surrounding_space() -> None:
    assert search_term(" a\x00b\x00 ", max_length=200) == "ab"
    assert search_term("\x00", max_length=200) == ""
    assert search_term(None, max_length=200) == ""
    assert search_term("x" * 500, max_length=200) == "x" * 200
