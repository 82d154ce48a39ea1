"""Addresses by id without walking the URLconf each time."""

from __future__ import annotations

import pytest
from django.urls import clear_script_prefix, reverse, set_script_prefix

from core.links import id_address, id_link

NAMES = ["audio-download", "audio-stream", "document-detail", "document-page", "web-delete"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("pk", [1, 42, 10**12])
def test_an_address_is_the_one_reverse_gives(name: str, pk: int) -> None:
    assert id_address(name, pk) == reverse(name, kwargs={"pk": pk})


def test_an_address_follows_the_script_prefix() -> None:
    plain = id_address("audio-download", 7)
    set_script_prefix("/pagecast/")
    try:
        assert id_address("audio-download", 7) == "/pagecast" + plain
        assert id_address("audio-download", 7) == reverse("audio-download", kwargs={"pk": 7})
    finally:
        clear_script_prefix()
    assert id_address("audio-download", 7) == plain


def test_the_parts_are_worked_out_once_per_name() -> None:
    assert id_link("audio-stream") is id_link("audio-stream")
    assert id_link("audio-stream") != id_link("audio-download")
