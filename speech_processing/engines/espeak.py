"""espeak-ng through its command line: robotic but tiny, and it speaks over a hundred languages.

Available when the ``espeak-ng`` binary is on PATH (or configured). Text always goes in on
stdin, never on the command line, and without ``-m``, so espeak-ng reads it as plain text and
never as SSML.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from typing import ClassVar

from speech_processing.engines.base import (
    MSG_BAD_AUDIO,
    MSG_BUSY,
    MSG_FAILED,
    MSG_VOICE_UNAVAILABLE,
    AudioPiece,
    PermanentEngineError,
    TransientEngineError,
    Voice,
    audio_from_wav,
    language_tag,
    voice_id,
)

logger = logging.getLogger(__name__)

# espeak-ng voices are named by language code ("en-us", "pt-br", "yue"). Checked as well as
# looked up, so a name can never be mistaken for an option ("-w file") by espeak-ng.
_VOICE_NAME = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{1,8})*", re.IGNORECASE)
_GENDERS = {"M": "male", "F": "female"}


class EspeakEngine:
    name: ClassVar[str] = "espeak"
    # One process per call costs a few milliseconds; sentence calls keep timings exact.
    chunk_by_sentence: bool = True

    def __init__(
        self,
        *,
        binary: str = "espeak-ng",
        words_per_minute: int | None = None,
        timeout_seconds: float = 60.0,
        max_chunk_chars: int = 2000,
    ) -> None:
        self.binary = binary
        self.words_per_minute = words_per_minute
        self.timeout_seconds = timeout_seconds
        self.max_chunk_chars = max_chunk_chars
        self._voices: list[Voice] | None = None

    @property
    def executable(self) -> str | None:
        """Full path of the espeak-ng binary, or None when it is not installed."""
        return shutil.which(self.binary)

    def voices(self) -> list[Voice]:
        if self._voices is None:
            self._voices = self._list_voices()
        return list(self._voices)

    def _list_voices(self) -> list[Voice]:
        executable = self.executable
        if executable is None:
            return []
        try:
            result = subprocess.run(  # noqa: S603 - fixed argv, no shell
                [executable, "--voices"],
                capture_output=True,
                timeout=self.timeout_seconds,
                check=True,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            logger.warning("espeak-ng --voices failed: %s", type(exc).__name__)
            return []
        return parse_voice_list(result.stdout.decode("utf-8", "replace"))

    def synthesize(self, text: str, *, voice: str) -> AudioPiece:
        executable = self.executable
        known = {v.name for v in self.voices()}
        if executable is None or not _VOICE_NAME.fullmatch(voice) or voice not in known:
            raise PermanentEngineError("espeak: unknown voice", user_message=MSG_VOICE_UNAVAILABLE)
        command = [executable, "--stdout", "-b", "1", "-v", voice]  # -b 1: stdin is UTF-8
        if self.words_per_minute:
            command += ["-s", str(int(self.words_per_minute))]
        output = self._run(command, text)
        try:
            return audio_from_wav(output)
        except ValueError:
            raise PermanentEngineError(
                "espeak: unreadable WAV output", user_message=MSG_BAD_AUDIO
            ) from None

    def _run(self, command: list[str], text: str) -> bytes:
        try:
            result = subprocess.run(  # noqa: S603 - fixed argv, text on stdin, no shell
                command,
                input=text.encode("utf-8", "replace"),
                capture_output=True,
                timeout=self.timeout_seconds,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise TransientEngineError("espeak: timed out", user_message=MSG_BUSY) from None
        except OSError as exc:
            raise TransientEngineError(
                "espeak: could not start", user_message=MSG_BUSY, code=type(exc).__name__
            ) from None
        if result.returncode != 0:
            logger.warning("espeak-ng exited with status %d", result.returncode)
            raise PermanentEngineError(
                "espeak: failed", user_message=MSG_FAILED, code=f"exit_{result.returncode}"
            )
        return result.stdout


def parse_voice_list(output: str) -> list[Voice]:
    """Parse ``espeak-ng --voices``.

    Columns: Pty, Language, Age/Gender, VoiceName, File, Other Languages. The language code is
    the voice name we use: espeak-ng's ``-v`` takes it, and it is unique in the list.
    """
    voices: dict[str, Voice] = {}
    for line in output.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or not _VOICE_NAME.fullmatch(fields[1]):
            continue
        code, age_gender, label = fields[1], fields[2], fields[3]
        if code in voices:
            continue
        gender = _GENDERS.get(age_gender.rpartition("/")[2].upper(), "")
        voices[code] = Voice(
            id=voice_id(EspeakEngine.name, code),
            engine=EspeakEngine.name,
            name=code,
            language=language_tag(code),
            gender=gender,
            description=f"espeak-ng {label.replace('_', ' ')}",
        )
    return list(voices.values())
