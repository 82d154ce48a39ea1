"""Listening while audio is made: the worker writes MP3 parts, the stream serves them.

While a page is synthesised, its MP3 bytes are written to storage in parts (the first as soon as
the first sentence is encoded, then about one a second), and the row counts the parts written
for the current attempt (`stream_parts`) and the sentences finished so far (`timings`). The
parts are consecutive slices of one MP3 stream, so together they are the start of the final
file, byte for byte: a listener who has received `n` bytes of parts goes on with the final file
from byte `n` once it is stored. The parts are removed as soon as synthesis ends.

Storage rather than a local folder, so that the web process serving the stream and the worker
making the audio can be on different hosts. Streaming is a convenience: if writing a part fails,
synthesis carries on and the audio is served once complete.

A listener follows the audio's manifest (`manifest`): the parts stored so far, each with a URL
of its own signed for this audio and attempt, and what to do next. Each part is a short request,
so a listener holds no web thread between parts, however many listen to one audio at once (they
share its one synthesis); once the audio is made, the manifest says so, and the listener reads
the rest of the made file from the byte it has reached. The player does this (static/js/
stream.js), as an HLS player follows its playlist.

For clients that want one response, the stream (a generator under StreamingHttpResponse) looks
at the row, sends what exists, and sleeps between looks without holding a database connection.
It ends when the audio is complete (after the rest of the final file), failed or deleted, or
when nothing new has come for STREAM_IDLE_SECONDS. Such a stream holds a web thread, so each
process serves at most STREAM_MAX_PER_PROCESS of them.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage
from django.core.signing import BadSignature, TimestampSigner
from django.db import close_old_connections, connection
from django.urls import reverse
from django.utils.translation import gettext as _

from core.exceptions import Conflict, NotFound, ServiceUnavailable
from sharing.policy import Action, require
from speech_processing.models import Audio
from speech_processing.synthesis import SentenceTiming, SynthesisPart
from users.models import User

logger = logging.getLogger(__name__)

# The first parts go out as soon as each engine call is encoded (a player needs a few seconds
# of audio to start); after those, about one part a second, to keep writes few.
EAGER_PARTS = 4
FLUSH_SECONDS = 1.0
POLL_SECONDS = 0.1  # how often a waiting stream looks again (first seconds)
SLOW_POLL_SECONDS = 0.5  # ... and after that
FAST_POLL_FOR_SECONDS = 5.0
STREAM_IDLE_SECONDS = 30.0  # a stream that receives nothing new for this long ends
STREAM_MAX_SECONDS = 1800.0  # and none lasts longer than a task may run
READ_CHUNK = 64 * 1024


PARTS_FOLDER = "audio-stream"


def part_key(audio_id: int, attempt: int, number: int) -> str:
    return f"{PARTS_FOLDER}/{audio_id}/{attempt}/{number:05d}.mp3"


_PART_KEY = re.compile(rf"{PARTS_FOLDER}/(?P<audio>\d+)/(?P<attempt>\d+)/\d+\.mp3")


class PartWriter:
    """Receives synthesis steps (``on_part``) and writes their MP3 bytes out in parts."""

    def __init__(
        self,
        audio_id: int,
        attempt: int,
        *,
        storage: Storage | None = None,
        flush_seconds: float = FLUSH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.audio_id = audio_id
        self.attempt = attempt
        self.storage = storage or default_storage
        self.flush_seconds = flush_seconds
        self.clock = clock
        self.written = 0  # parts in storage
        self.stopped = False  # streaming gave up (storage refused, or the row moved on)
        self._pending: list[bytes] = []
        self._sentences: list[SentenceTiming] = []
        self._last_flush = 0.0

    def __call__(self, part: SynthesisPart) -> None:
        if self.stopped:
            return
        self._sentences.extend(part.sentences)
        if part.mp3:
            self._pending.append(part.mp3)
        due = self.written < EAGER_PARTS or self.clock() - self._last_flush >= self.flush_seconds
        if self._pending and due:
            self.flush()

    def start(self) -> None:
        """A new attempt starts from nothing: no parts, no sentences. The parts of earlier
        attempts (a worker that died mid-synthesis left them) go: nobody can stream them now."""
        Audio.objects.filter(pk=self.audio_id, attempts=self.attempt).update(
            stream_parts=0, timings=[]
        )
        try:
            earlier = [a for a in _attempt_folders(self.storage, self.audio_id) if a < self.attempt]
        except Exception:
            # Streaming is a convenience: a store that cannot list leaves them to the sweep.
            logger.warning("Could not look for old stream parts of audio %s", self.audio_id)
            return
        for attempt in earlier:
            _remove_folder(self.storage, self.audio_id, attempt)

    def flush(self) -> None:
        key = part_key(self.audio_id, self.attempt, self.written)
        try:
            saved = self.storage.save(key, ContentFile(b"".join(self._pending)))
            if saved != key:
                # A leftover under that name (storage kept the new one under another): the
                # leftover goes, as nobody can be reading a part not yet counted on the row.
                self.storage.delete(saved)
                self.storage.delete(key)
                saved = self.storage.save(key, ContentFile(b"".join(self._pending)))
        except Exception:
            # Not the exception's text: storage errors can quote endpoints and request details.
            logger.warning("Could not write a stream part of audio %s", self.audio_id)
            self.stopped = True
            return
        if saved != key:
            self.storage.delete(saved)
            self.stopped = True
            return
        self.written += 1
        self._pending = []
        self._last_flush = self.clock()
        moved_on = not Audio.objects.filter(
            pk=self.audio_id, status=Audio.Status.GENERATING, attempts=self.attempt
        ).update(
            stream_parts=self.written, timings=[timing.as_dict() for timing in self._sentences]
        )
        if moved_on:
            self.stopped = True  # deleted, or taken over: nobody streams this attempt

    def discard(self) -> None:
        for number in range(self.written):
            try:
                self.storage.delete(part_key(self.audio_id, self.attempt, number))
            except Exception:
                logger.warning("Could not remove a stream part of audio %s", self.audio_id)
                return
        _remove_empty_dirs(self.storage, f"{PARTS_FOLDER}/{self.audio_id}/{self.attempt}")


@contextmanager
def streamed(audio: Audio) -> Iterator[PartWriter]:
    """An ``on_part`` for synthesising `audio` (as claimed: its attempt) whose parts are
    removed when synthesis ends, however it ends."""
    writer = PartWriter(audio.pk, audio.attempts)
    writer.start()
    try:
        yield writer
    finally:
        writer.discard()


# --- Leftovers ---------------------------------------------------------------------------------


def sweep_stream_parts(*, storage: Storage | None = None) -> int:
    """Remove the parts no stream can read: those of an attempt that is not the one under way.

    A worker killed mid-synthesis leaves its parts behind, and so does one whose audio was
    deleted or failed for good meanwhile. Parts are kept only for audio being made, in the
    attempt being made. Returns how many attempts' parts were removed.
    """
    storage = storage or default_storage
    found: dict[int, list[int]] = {}
    try:
        folders, _ = storage.listdir(PARTS_FOLDER)
        for name in folders:
            if name.isdigit():
                found[int(name)] = _attempt_folders(storage, int(name))
    except FileNotFoundError:
        return 0  # nothing was ever streamed here
    except Exception:
        logger.warning("Could not list the stream parts; the next sweep tries again")
        return 0
    # Read after listing: an attempt that starts later is not in the listing at all.
    under_way = dict(
        Audio.objects.filter(pk__in=found, status=Audio.Status.GENERATING).values_list(
            "pk", "attempts"
        )
    )
    removed = 0
    for audio_id, attempts in found.items():
        for attempt in attempts:
            if under_way.get(audio_id) != attempt:
                _remove_folder(storage, audio_id, attempt)
                removed += 1
    return removed


def stream_parts_in_use(keys: Iterable[str]) -> set[str]:
    """Those of `keys` that are parts of an attempt under way (STORED_FILE_IN_USE): a listener
    may be reading them, and the worker removes them itself when synthesis ends."""
    attempts: dict[str, tuple[int, int]] = {}
    for key in keys:
        match = _PART_KEY.fullmatch(key)
        if match is not None:
            attempts[key] = (int(match["audio"]), int(match["attempt"]))
    if not attempts:
        return set()
    under_way = set(
        Audio.objects.filter(
            pk__in={audio_id for audio_id, _ in attempts.values()},
            status=Audio.Status.GENERATING,
        ).values_list("pk", "attempts")
    )
    return {key for key, attempt in attempts.items() if attempt in under_way}


def _attempt_folders(storage: Storage, audio_id: int) -> list[int]:
    try:
        folders, _ = storage.listdir(f"{PARTS_FOLDER}/{audio_id}")
    except FileNotFoundError:
        return []
    return [int(name) for name in folders if name.isdigit()]


def _remove_folder(storage: Storage, audio_id: int, attempt: int) -> None:
    folder = f"{PARTS_FOLDER}/{audio_id}/{attempt}"
    try:
        _, files = storage.listdir(folder)
        for name in files:
            storage.delete(f"{folder}/{name}")
    except FileNotFoundError:
        return
    except Exception:
        logger.warning("Could not remove the stream parts of audio %s", audio_id)
        return
    _remove_empty_dirs(storage, folder)


def _remove_empty_dirs(storage: Storage, folder: str) -> None:
    """A local folder stays behind when its files go; object stores have no folders."""
    path = getattr(storage, "path", None)
    if path is None:
        return
    for level in (folder, folder.rsplit("/", 1)[0]):
        try:
            os.rmdir(path(level))
        except (OSError, NotImplementedError):
            return  # not empty (another attempt), or not a local folder


# --- The manifest: listening part by part ---------------------------------------------------

# How soon a listener looks at the manifest again: soon while the first parts come (a player
# starts on the first sentence), then about as often as parts are written. (The player spreads
# its looks around these, so that a class that started together does not ask together.)
PENDING_POLL_MS = 400
FIRST_PARTS_POLL_MS = 300
POLL_MS = 1000
# A part's URL stays good for as long as a synthesis may run, and a while to play it after.
PART_URL_SECONDS = int(STREAM_MAX_SECONDS) + 3600
_PART_SALT = "pagecast.live.part"
_FOLLOW_SALT = "pagecast.live.follow"
# How long a process answers followers of one audio from what it last read of its row: a class
# of listeners asks about one audio hundreds of times a second, the row changes about once.
STATE_FRESH_SECONDS = 0.2
_STATES_KEPT = 1000


@dataclass(frozen=True)
class LiveState:
    """What the manifest says of an audio being made: its row's state."""

    audio_id: int
    status: str
    lifetime_status: str
    attempts: int
    stream_parts: int

    @classmethod
    def of(cls, audio: Audio) -> LiveState:
        return cls(
            audio.pk, audio.status, audio.lifetime_status, audio.attempts, audio.stream_parts
        )


_states: dict[int, tuple[float, LiveState | None]] = {}
_states_lock = threading.Lock()


def live_state(audio_id: int, *, clock: Callable[[], float] = time.monotonic) -> LiveState | None:
    """The audio's state as of at most STATE_FRESH_SECONDS ago (None: no such audio)."""
    now = clock()
    with _states_lock:
        kept = _states.get(audio_id)
    if kept is not None and now - kept[0] < STATE_FRESH_SECONDS:
        return kept[1]
    row = (
        Audio.objects.filter(pk=audio_id)
        .values_list("status", "lifetime_status", "attempts", "stream_parts")
        .first()
    )
    state = LiveState(audio_id, *row) if row is not None else None
    with _states_lock:
        if len(_states) >= _STATES_KEPT:
            _states.clear()
        _states[audio_id] = (now, state)
    return state


def _sign(salt: str, value: str) -> str:
    return TimestampSigner(salt=salt).sign(value)[len(value) + 1 :]


def _signed(salt: str, value: str, token: str) -> bool:
    try:
        TimestampSigner(salt=salt).unsign(f"{value}:{token}", max_age=PART_URL_SECONDS)
    except BadSignature:
        return False
    return True


def part_token(audio_id: int, attempt: int) -> str:
    """What a part's URL carries to be read without a session: a signature of the audio and
    the attempt, good for PART_URL_SECONDS (the parts of another attempt need another)."""
    return _sign(_PART_SALT, f"{audio_id}.{attempt}")


def part_url(audio_id: int, attempt: int, number: int, token: str) -> str:
    path = reverse("audio-part", kwargs={"pk": audio_id, "attempt": attempt, "number": number})
    return f"{path}?token={token}"


def follow_token(audio_id: int) -> str:
    """What the manifest's follow URL carries: given to a listener who passed the access check,
    it lets them follow this audio being made without a session, as the parts' URLs do."""
    return _sign(_FOLLOW_SALT, str(audio_id))


def followed_state(audio_id: int, token: str) -> LiveState:
    """The state of an audio followed by its follow URL: NotFound for a token that is not this
    audio's (or has lapsed) and for an audio no longer there."""
    state = live_state(audio_id) if _signed(_FOLLOW_SALT, str(audio_id), token) else None
    if state is None or state.lifetime_status != Audio.Lifetime.ACTIVE:
        raise NotFound(_("This audio is no longer available."))
    if state.status == Audio.Status.FAILED:
        raise Conflict(_("This audio could not be made."))
    return state


def manifest(state: LiveState, *, after: int = 0, token: str) -> dict[str, object]:
    """What a listener of the audio does next, having received its first `after` parts.

    `status` is the audio's. While it is made, `parts` are the URLs of the parts from number
    `after` on, in order (`first` is the number of the first), `poll_ms` says when to look
    again, and `follow_url` where (`token` is the audio's follow token). Once it is made,
    `rest_url` serves the made file (with Range from the byte reached). A listener whose
    `attempt` changes after it received a part cannot continue (the audio is being made again
    from its start).
    """
    audio_id = state.audio_id
    answer: dict[str, object] = {
        "status": state.status,
        "attempt": state.attempts or None,
        "first": after,
        "parts": [],
        "rest_url": None,
        "poll_ms": PENDING_POLL_MS,
        "follow_url": f"{reverse('audio-parts-follow', kwargs={'pk': audio_id})}?token={token}",
    }
    if state.status == Audio.Status.COMPLETED:
        answer.update(
            rest_url=reverse("audio-stream", kwargs={"pk": audio_id}),
            poll_ms=None,
            follow_url=None,
        )
    elif state.status == Audio.Status.GENERATING:
        stored = state.stream_parts
        if stored > after:
            signed = part_token(audio_id, state.attempts)
            answer["parts"] = [
                part_url(audio_id, state.attempts, number, signed)
                for number in range(after, stored)
            ]
        answer["poll_ms"] = FIRST_PARTS_POLL_MS if stored < EAGER_PARTS else POLL_MS
    return answer


def read_part(audio_id: int, attempt: int, number: int, token: str) -> bytes:
    """A stored part, for whoever holds its URL: NotFound if the token is not this audio's and
    attempt's (or has lapsed), or the part is gone (synthesis is over: the made file has it)."""
    if not _signed(_PART_SALT, f"{audio_id}.{attempt}", token):
        raise NotFound(_("This part of the audio is not available."))
    data = _read(default_storage, part_key(audio_id, attempt, number))
    if data is None:
        raise NotFound(_("This part of the audio is no longer stored; the audio is made."))
    return data


# --- Serving ---------------------------------------------------------------------------------


class StreamSlots:
    """At most STREAM_MAX_PER_PROCESS live streams at once in this process.

    A stream holds a web thread until its audio is made (or it idles out), and the site needs
    threads for everything else: past the limit a stream is refused with a 503 and Retry-After,
    and the reader plays the audio from the start once it is made instead.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.in_use = 0

    def take(self) -> Callable[[], None]:
        """A slot, or ServiceUnavailable; call what it returns (any number of times) to give
        the slot back."""
        with self._lock:
            if self.in_use >= settings.STREAM_MAX_PER_PROCESS:
                raise ServiceUnavailable(
                    _(
                        "Too many people are listening to audio as it is made right now. "
                        "It will play once it is made."
                    ),
                    retry_after=RETRY_STREAM_AFTER_SECONDS,
                )
            self.in_use += 1
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if not released:
                    released = True
                    self.in_use -= 1

        return release


SLOTS = StreamSlots()
RETRY_STREAM_AFTER_SECONDS = 5


class HeldStream:
    """A stream's bytes that give its slot back when the response is closed, whether or not
    they were ever read (a generator's `finally` runs only if it started)."""

    def __init__(self, chunks: Iterator[bytes], release: Callable[[], None]) -> None:
        self._chunks = chunks
        self._release = release

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def close(self) -> None:
        try:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()
        finally:
            self._release()


def held_stream(audio_id: int) -> HeldStream:
    """`stream_bytes(audio_id)` in one of this process's stream slots (ServiceUnavailable when
    none is free)."""
    release = SLOTS.take()
    return HeldStream(stream_bytes(audio_id), release)


def require_streamable(*, user: User, audio: Audio) -> None:
    """An audio the user may listen to as it is made: 404 once deleted, 409 if it failed."""
    require(user, Action.VIEW, audio.page.document)
    if audio.lifetime_status != Audio.Lifetime.ACTIVE:
        raise NotFound(_("This audio is no longer available."))
    if audio.status == Audio.Status.FAILED:
        raise Conflict(_("This audio could not be made."))


def stream_bytes(
    audio_id: int,
    *,
    storage: Storage | None = None,
    idle_seconds: float = STREAM_IDLE_SECONDS,
    max_seconds: float = STREAM_MAX_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[bytes]:
    """The audio's MP3 from its first byte: parts while it is made, then the final file."""
    storage = storage or default_storage
    sent = 0
    attempt: int | None = None
    number = 0
    started = last_progress = clock()
    while True:
        row = (
            Audio.objects.filter(pk=audio_id)
            .values("status", "lifetime_status", "attempts", "stream_parts", "file_key")
            .first()
        )
        if row is None or row["lifetime_status"] != Audio.Lifetime.ACTIVE:
            return
        if row["status"] == Audio.Status.COMPLETED:
            if row["file_key"]:
                yield from _file_from(storage, row["file_key"], offset=sent)
            return
        if row["status"] == Audio.Status.FAILED:
            return
        if row["status"] == Audio.Status.GENERATING:
            if attempt != row["attempts"]:
                if sent:
                    return  # a new attempt started over; what was sent cannot be continued
                attempt, number = row["attempts"], 0
            while number < row["stream_parts"]:
                data = _read(storage, part_key(audio_id, attempt, number))
                if data is None:
                    break  # removed: synthesis is over and the file is about to be complete
                number += 1
                if data:
                    sent += len(data)
                    last_progress = clock()
                    yield data
        now = clock()
        if now - last_progress > idle_seconds or now - started > max_seconds:
            return
        _release_connection()
        sleep(POLL_SECONDS if now - started < FAST_POLL_FOR_SECONDS else SLOW_POLL_SECONDS)


def _read(storage: Storage, key: str) -> bytes | None:
    try:
        with storage.open(key, "rb") as handle:
            return bytes(handle.read())
    except Exception:
        return None


def _file_from(storage: Storage, key: str, *, offset: int) -> Iterator[bytes]:
    handle = storage.open(key, "rb")
    try:
        handle.seek(offset)
        while chunk := handle.read(READ_CHUNK):
            yield chunk
    finally:
        handle.close()


def _release_connection() -> None:
    """No connection is held while the stream sleeps (a waiting listener must not take one of
    the database's few); the next look opens one again."""
    if connection.in_atomic_block:
        return  # the caller's transaction (tests run inside one) keeps its connection
    close_old_connections()
    connection.close()
