from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest

from document_processing.extractors import archive
from document_processing.extractors.archive import is_safe_member_name, open_zip, read_bounded
from document_processing.extractors.base import ExtractionError, ExtractionLimits
from document_processing.tests.extractors.samples import write_bomb_zip, write_zip

LIMITS = ExtractionLimits()
MIB = 1024 * 1024


def _read_all(path: Path, limits: ExtractionLimits) -> None:
    with open_zip(path, limits=limits, kind="EPUB") as z:
        for name in z.names:
            z.read(name)


def _error(path: Path, limits: ExtractionLimits = LIMITS) -> ExtractionError:
    with pytest.raises(ExtractionError) as caught:
        _read_all(path, limits)
    return caught.value


def test_reads_members_of_a_normal_archive(tmp_path: Path) -> None:
    members: dict[str, str | bytes] = {"a.txt": "alpha", "dir/b.txt": b"beta"}
    path = write_zip(tmp_path / "ok.zip", members)

    with open_zip(path, limits=LIMITS) as z:
        assert sorted(z.names) == ["a.txt", "dir/b.txt"]
        assert z.read("a.txt") == b"alpha"
        assert z.read("DIR/B.TXT") == b"beta"  # case-insensitive fallback
        assert "dir/b.txt" in z
        assert "missing" not in z


@pytest.mark.parametrize(
    "name",
    ["/etc/passwd", "../evil.txt", "a/../../evil.txt", "..\\evil.txt", "C:\\evil.txt", "\\x"],
)
def test_refuses_absolute_and_parent_member_names(tmp_path: Path, name: str) -> None:
    path = write_zip(tmp_path / "evil.zip", {"ok.txt": "x", name: "payload"})

    error = _error(path)

    assert error.code == "unsafe"
    assert "unsafe file name" in error.user_message


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("OEBPS/ch1.xhtml", True),
        ("a/./b", True),
        ("a..b/c", True),
        ("", False),
        ("/abs", False),
        ("x/../../y", False),
        ("nul\x00byte", False),
        ("D:/x", False),
    ],
)
def test_is_safe_member_name(name: str, safe: bool) -> None:
    assert is_safe_member_name(name) is safe


def test_refuses_truncated_archive(tmp_path: Path) -> None:
    whole = write_zip(tmp_path / "whole.zip", {"a.txt": "alpha" * 1000}).read_bytes()
    path = tmp_path / "cut.zip"
    path.write_bytes(whole[: len(whole) // 2])

    assert _error(path).code == "corrupt"


def test_the_hand_made_bomb_really_inflates(tmp_path: Path) -> None:
    path = write_bomb_zip(tmp_path / "bomb.zip", {"a": "a"}, bomb_name="zeros", bomb_size=2 * MIB)

    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        assert z.read("zeros") == bytes(2 * MIB)


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04garbage"])
def test_refuses_what_is_not_a_zip(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.zip"
    path.write_bytes(content)

    error = _error(path)

    assert error.code == "corrupt"
    assert error.user_message == "This file is damaged or is not a complete EPUB file."


def test_refuses_high_compression_ratio(tmp_path: Path) -> None:
    # 8 MiB of zeros deflate about 1000-fold, far over the ratio limit of 200.
    members: dict[str, str | bytes] = {"a.txt": "a", "zeros": bytes(8 * MIB)}
    path = write_zip(tmp_path / "zeros.zip", members)

    error = _error(path)

    assert error.code == "too_large"
    assert "suspicious" in error.user_message


def test_refuses_total_over_budget_before_reading(tmp_path: Path) -> None:
    members = {f"part{i}.bin": bytes(range(256)) * 1024 for i in range(3)}  # 3 parts of 256 KiB
    path = write_zip(tmp_path / "big.zip", members, compression=zipfile.ZIP_STORED)

    error = _error(path, ExtractionLimits(max_uncompressed_bytes=512 * 1024))

    assert error.code == "too_large"


def test_a_300_mb_bomb_is_refused_without_decompressing(tmp_path: Path) -> None:
    # Declared sizes are checked before any byte is inflated, so this is quick.
    path = write_bomb_zip(tmp_path / "bomb.zip", {"a": "a"}, bomb_name="zeros", bomb_size=300 * MIB)

    error = _error(path)

    assert error.code == "too_large"


def test_small_compressible_members_are_allowed(tmp_path: Path) -> None:
    # 50 KB of spaces compresses > 200-fold, but the ratio of a member this small means little.
    path = write_zip(tmp_path / "ok.zip", {"spaces.txt": " " * 50_000})

    with open_zip(path, limits=LIMITS) as z:
        assert len(z.read("spaces.txt")) == 50_000


def test_too_many_members(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "MAX_MEMBERS", 5)
    path = write_zip(tmp_path / "many.zip", {f"{i}.txt": "x" for i in range(6)})

    assert _error(path).code == "too_large"


def _patch_sizes(data: bytes, size: int) -> bytes:
    """Make both the local header and the central directory lie about the uncompressed size."""
    patched = bytearray(data)
    struct.pack_into("<I", patched, 22, size)  # local file header
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", patched, central + 24, size)
    return bytes(patched)


def test_lying_size_headers_do_not_let_more_data_out(tmp_path: Path) -> None:
    honest = write_zip(tmp_path / "honest.zip", {"data.bin": b"A" * 200_000})
    path = tmp_path / "liar.zip"
    path.write_bytes(_patch_sizes(honest.read_bytes(), 100))

    with open_zip(path, limits=LIMITS) as z, pytest.raises(ExtractionError) as caught:
        z.read("data.bin")

    # Either the data stops at the declared 100 bytes and fails its checksum, or the reader
    # notices the overflow: never are 200,000 bytes handed out.
    assert caught.value.code in {"corrupt", "too_large"}


def test_read_bounded_refuses_more_than_its_limit(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "a.zip", {"a.txt": "x" * 1000})

    with zipfile.ZipFile(path) as z, pytest.raises(ExtractionError) as caught:
        read_bounded(z, z.getinfo("a.txt"), limit=999)

    assert caught.value.code == "too_large"


def test_repeated_reads_count_against_the_budget(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "a.zip", {"a.txt": "x" * 1000})
    limits = ExtractionLimits(max_uncompressed_bytes=2500)

    with open_zip(path, limits=limits) as z:
        z.read("a.txt")
        z.read("a.txt")
        with pytest.raises(ExtractionError) as caught:
            z.read("a.txt")

    assert caught.value.code == "too_large"


def test_refuses_encrypted_members(tmp_path: Path) -> None:
    data = bytearray(write_zip(tmp_path / "plain.zip", {"a.txt": "secret"}).read_bytes())
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<H", data, central + 8, 0x1)  # general-purpose flag: encrypted
    path = tmp_path / "locked.zip"
    path.write_bytes(bytes(data))

    error = _error(path)

    assert error.code == "encrypted"
    assert "password" in error.user_message


def test_missing_member_is_an_extraction_error(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "a.zip", {"a.txt": "x"})

    with open_zip(path, limits=LIMITS) as z, pytest.raises(ExtractionError):
        z.read("b.txt")
