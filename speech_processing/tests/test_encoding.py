"""PCM → MP3 encoding and sample-based durations."""

from __future__ import annotations

import numpy as np
import pytest

from speech_processing.encoding import (
    EncoderOptions,
    Mp3Encoder,
    duration_seconds,
    encode_mp3,
    silence,
)

# MPEG audio: version bits → (name, samples per Layer III frame, sample rates)
_VERSIONS = {3: (1, 1152, (44100, 48000, 32000)), 2: (2, 576, (22050, 24000, 16000))}
_VERSIONS[0] = (2, 576, (11025, 12000, 8000))  # MPEG 2.5
_BITRATES = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}


def mp3_frames(data: bytes) -> list[tuple[int, int, int]]:
    """(bitrate kbps, sample rate, samples) of each Layer III frame, walking frame by frame."""
    frames = []
    position = 10 + int.from_bytes(data[6:10], "big") if data[:3] == b"ID3" else 0
    while position + 4 <= len(data):
        header = int.from_bytes(data[position : position + 4], "big")
        assert header >> 21 == 0x7FF, f"lost frame sync at byte {position}"
        version, layer = (header >> 19) & 3, (header >> 17) & 3
        assert layer == 1, "not Layer III"
        mpeg, samples, rates = _VERSIONS[version]
        bitrate = _BITRATES[mpeg][(header >> 12) & 15]
        rate = rates[(header >> 10) & 3]
        padding = (header >> 9) & 1
        length = (144 if mpeg == 1 else 72) * bitrate * 1000 // rate + padding
        frames.append((bitrate, rate, samples))
        position += length
    assert position == len(data)
    return frames


def tone(seconds: float, rate: int) -> bytes:
    t = np.arange(round(seconds * rate)) / rate
    return (np.sin(2 * np.pi * 220 * t) * 12000).astype("<i2").tobytes()


@pytest.mark.parametrize("rate", [16000, 22050, 24000])
def test_mp3_starts_with_a_frame_and_covers_the_audio(rate: int) -> None:
    pcm = tone(1.5, rate)
    data = encode_mp3(pcm, sample_rate=rate)
    assert data[:3] == b"ID3" or (data[0] == 0xFF and data[1] & 0xE0 == 0xE0)
    frames = mp3_frames(data)
    assert {(bitrate, frame_rate) for bitrate, frame_rate, _ in frames} == {(64, rate)}
    assert sum(samples for _, _, samples in frames) >= len(pcm) // 2  # nothing is cut off


def test_duration_comes_from_samples() -> None:
    assert duration_seconds(22050, 22050) == 1.0
    encoder = Mp3Encoder(16000)
    encoder.encode(tone(0.75, 16000))
    assert encoder.samples == 12000
    assert encoder.duration_seconds == 0.75


def test_bitrate_setting_changes_size() -> None:
    pcm = tone(3.0, 22050)
    small = encode_mp3(pcm, sample_rate=22050, options=EncoderOptions(bitrate_kbps=32))
    large = encode_mp3(pcm, sample_rate=22050, options=EncoderOptions(bitrate_kbps=128))
    assert len(large) > 3 * len(small)
    # Constant bit rate: the size follows from the duration (plus LAME's delay and padding).
    assert len(small) == pytest.approx(32_000 / 8 * 3.0, rel=0.1)


def test_incremental_encoding_matches_one_shot() -> None:
    pcm = tone(2.0, 22050)
    encoder = Mp3Encoder(22050)
    pieces = [encoder.encode(pcm[i : i + 5000]) for i in range(0, len(pcm), 5000)]
    assert b"".join(pieces) + encoder.flush() == encode_mp3(pcm, sample_rate=22050)
    assert encoder.bytes_out == len(encode_mp3(pcm, sample_rate=22050))


def test_encoder_misuse_is_refused() -> None:
    encoder = Mp3Encoder(16000)
    assert encoder.encode(b"") == b""
    with pytest.raises(ValueError, match="16-bit"):
        encoder.encode(b"\x00")
    assert encoder.flush() == b""  # nothing was encoded
    with pytest.raises(RuntimeError):
        encoder.encode(b"\x00\x00")
    with pytest.raises(RuntimeError):
        encoder.flush()


@pytest.mark.parametrize("options", [{"bitrate_kbps": 65}, {"quality": 1}, {"quality": 8}])
def test_invalid_options(options: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        EncoderOptions(**options)


def test_silence() -> None:
    assert silence(0.5, 16000) == bytes(16000)
    assert silence(-1, 16000) == b""
