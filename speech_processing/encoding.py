"""PCM → MP3 with LAME (lameenc), and durations counted in samples.

Constant bit rate on purpose: a CBR file's byte offset is proportional to time, so HTTP Range
requests seek accurately in every browser without a seek table. 64 kbps mono is transparent
enough for speech. LAME takes 16000, 22050 and 24000 Hz input as is, so nothing is resampled.

Durations come from PCM sample counts, not from the MP3: an MP3 carries encoder delay and
padding (about 50 ms at the start that a decoder without a LAME tag will play), while sample
counts are exact. Sentence timings share that reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import lameenc

from speech_processing.engines.base import PCM_SAMPLE_WIDTH

MP3_BITRATES_KBPS = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 192, 224, 256, 320)


@dataclass(frozen=True)
class EncoderOptions:
    bitrate_kbps: int = 64
    # LAME's algorithm quality: 2 is best and slowest, 7 fastest. 5 costs about 0.003 s per
    # second of speech here, a twentieth of Piper's own time; 2 costs twice as much for no
    # audible gain at 64 kbps mono.
    quality: int = 5

    def __post_init__(self) -> None:
        if self.bitrate_kbps not in MP3_BITRATES_KBPS:
            raise ValueError(f"bitrate_kbps must be one of {MP3_BITRATES_KBPS}")
        if not 2 <= self.quality <= 7:
            raise ValueError("quality must be between 2 (best) and 7 (fastest)")


class Mp3Encoder:
    """Incremental mono encoder: feed PCM pieces, get MP3 frames, then flush once.

    LAME buffers about one frame (1152 samples), so ``encode`` may return b"" for tiny pieces;
    every sample still comes out by ``flush``.
    """

    def __init__(self, sample_rate: int, options: EncoderOptions | None = None) -> None:
        options = options or EncoderOptions()
        self.sample_rate = sample_rate
        self.options = options
        self.samples = 0
        self.bytes_out = 0
        self._finished = False
        self._encoder = lameenc.Encoder()
        self._encoder.set_bit_rate(options.bitrate_kbps)
        self._encoder.set_in_sample_rate(sample_rate)
        self._encoder.set_out_sample_rate(sample_rate)
        self._encoder.set_channels(1)
        self._encoder.set_quality(options.quality)
        self._encoder.silence()  # LAME otherwise prints its banner to stdout

    @property
    def duration_seconds(self) -> float:
        return duration_seconds(self.samples, self.sample_rate)

    def encode(self, pcm: bytes) -> bytes:
        if self._finished:
            raise RuntimeError("encoder already flushed")
        if len(pcm) % PCM_SAMPLE_WIDTH:
            raise ValueError("PCM length must be a whole number of 16-bit samples")
        if not pcm:
            return b""
        self.samples += len(pcm) // PCM_SAMPLE_WIDTH
        return self._count(self._encoder.encode(pcm))

    def flush(self) -> bytes:
        if self._finished:
            raise RuntimeError("encoder already flushed")
        self._finished = True
        if not self.samples:
            return b""  # LAME refuses to flush an encoder that never encoded
        return self._count(self._encoder.flush())

    def _count(self, data: bytes | bytearray) -> bytes:
        out = bytes(data)
        self.bytes_out += len(out)
        return out


def encode_mp3(pcm: bytes, *, sample_rate: int, options: EncoderOptions | None = None) -> bytes:
    """Encode a whole PCM buffer (signed 16-bit little-endian mono) to MP3."""
    encoder = Mp3Encoder(sample_rate, options)
    return encoder.encode(pcm) + encoder.flush()


def duration_seconds(num_samples: int, sample_rate: int) -> float:
    return num_samples / sample_rate


def silence(seconds: float, sample_rate: int) -> bytes:
    """PCM silence of the given length (rounded to whole samples)."""
    return bytes(round(max(seconds, 0.0) * sample_rate) * PCM_SAMPLE_WIDTH)
