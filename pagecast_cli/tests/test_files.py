"""File names, whole-or-nothing writes and the output folder's checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from pagecast_cli.files import (
    OutputError,
    atomic_writer,
    check_folder,
    document_stem,
    page_stem,
    prepare_folder,
    write_atomic,
)
from pagecast_cli.tests.conftest import files_in


@pytest.mark.parametrize(
    ("number", "title", "count", "stem"),
    [
        (7, "Introduction", 12, "007 - Introduction"),
        (7, "", 12, "007"),
        (7, "  \n ", 12, "007"),
        (7, "...", 12, "007"),
        (42, "Intro", 1500, "0042 - Intro"),
        (3, "Either/or: a fragment?", 9, "003 - Either-or_ a fragment_"),
        (3, "..\\..\\etc\\passwd", 9, "003 - -.-etc-passwd"),
        (3, "Version 2.0", 9, "003 - Version 2.0"),
        (3, "Ünïcødé chapter", 9, "003 - Ünïcødé chapter"),
        (3, "CON", 9, "003 - _CON"),
        (3, "x" * 300, 9, "003 - " + "x" * 60),
    ],
)
def test_page_file_names_are_safe_and_sort_in_page_order(
    number: int, title: str, count: int, stem: str
) -> None:
    assert page_stem(number, title, page_count=count) == stem


def test_document_stem() -> None:
    assert document_stem("book") == "book"
    assert document_stem("A tale: part 1/2") == "A tale_ part 1-2"
    assert document_stem("") == "pagecast"


def test_atomic_writer_leaves_the_old_file_or_the_new_one(tmp_path: Path) -> None:
    target = tmp_path / "page.mp3"
    write_atomic(target, b"old")

    def fail_half_way() -> None:
        with atomic_writer(target) as handle:
            handle.write(b"new but incomplete")
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        fail_half_way()
    assert target.read_bytes() == b"old"
    assert files_in(tmp_path) == ["page.mp3"]
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert files_in(tmp_path) == ["page.mp3"]


def test_prepare_folder_creates_it_and_removes_partial_files(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "b"
    assert prepare_folder(folder) is True
    (folder / ".001.mp3.0123abcd.pagecast-partial").write_bytes(b"half")
    (folder / "001.mp3").write_bytes(b"whole")
    assert prepare_folder(folder) is False
    assert files_in(folder) == ["001.mp3"]


def test_a_file_where_the_folder_should_be(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    for path in (blocker, blocker / "inside"):
        with pytest.raises(OutputError, match="is not a folder"):
            check_folder(path)
        with pytest.raises(OutputError):
            prepare_folder(path)
    assert files_in(tmp_path) == ["blocker"]


def test_check_folder_accepts_a_folder_to_be_made(tmp_path: Path) -> None:
    check_folder(tmp_path / "new" / "deeper")
    assert files_in(tmp_path) == []
