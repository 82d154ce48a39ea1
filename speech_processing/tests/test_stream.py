"""Listening while audio is made: parts written by the worker, the stream that serves them."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.signals import request_finished
from django.db import close_old_connections, connection
from rest_framework.test import APIClient

from document_processing.models import Page
from document_processing.tests.factories import document_with_pages
from speech_processing import live, services, tasks, voices
from speech_processing.engines.fake import FakeEngine
from speech_processing.models import Audio
from speech_processing.synthesis import synthesize_text
from speech_processing.tests.factories import AudioFactory
from users.models import User

Capture = Callable[..., AbstractContextManager[Any]]
TEXT = " ".join(f"Sentence number {n} is spoken here." for n in range(1, 9))


@pytest.fixture(autouse=True)
def _no_parts_left(settings: Any) -> Iterator[None]:
    # Row ids start again in every test, so parts left by one would meet the next.
    yield
    shutil.rmtree(Path(settings.MEDIA_ROOT) / "audio-stream", ignore_errors=True)


def making_in_a_thread(audio_id: int) -> threading.Thread:
    """The synthesis task in a thread of its own, started, as a worker runs it beside the test;
    the thread closes its database connection when done (one left open keeps PostgreSQL from
    dropping the test database)."""

    def make() -> None:
        try:
            services.synthesize_audio(audio_id=audio_id)
        finally:
            connection.close()

    worker = threading.Thread(target=make)
    worker.start()
    return worker


def page_of(owner: User, text: str = TEXT) -> Page:
    page = document_with_pages(owner=owner, pages=1).pages.get()
    Page.objects.filter(pk=page.pk).update(text=text, char_count=len(text))
    return Page.objects.get(pk=page.pk)


def generating(page: Page, user: User) -> Audio:
    return AudioFactory.create(
        page=page, status=Audio.Status.GENERATING, attempts=1, created_by=user
    )


def parts_of(audio: Audio, count: int) -> list[bytes]:
    found = []
    for number in range(count):
        with default_storage.open(live.part_key(audio.pk, audio.attempts, number), "rb") as part:
            found.append(part.read())
    return found


class Ticks:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.django_db
def test_parts_are_the_start_of_the_final_file_and_the_row_counts_them(alice: User) -> None:
    audio = generating(page_of(alice), alice)
    clock = Ticks()
    writer = live.PartWriter(audio.pk, audio.attempts, clock=clock)
    seen: list[tuple[int, int]] = []  # (parts, sentences on the row) after each step

    def step(part: Any) -> None:
        writer(part)
        clock.now += 0.6  # two engine calls a second
        row = Audio.objects.get(pk=audio.pk)
        seen.append((row.stream_parts, len(row.timings)))

    output = synthesize_text(TEXT, engine=FakeEngine(), voice="alpha", on_part=step)
    # The first part goes out with the first sentence; then about one a second.
    assert seen[0] == (1, 1)
    assert writer.written == seen[-1][0]
    assert 3 <= writer.written < len(seen) - 1
    parts = parts_of(audio, writer.written)
    joined = b"".join(parts)
    assert joined
    assert output.mp3.startswith(joined)  # the rest, if any, comes with the final file
    # The row's timings are the finished sentences, the same as the final ones so far.
    row = Audio.objects.get(pk=audio.pk)
    assert row.timings == output.timings()[: len(row.timings)]
    writer.discard()
    assert not any(
        default_storage.exists(live.part_key(audio.pk, 1, n)) for n in range(writer.written)
    )


@pytest.mark.django_db
def test_a_row_that_moved_on_stops_the_parts(alice: User) -> None:
    audio = generating(page_of(alice), alice)
    writer = live.PartWriter(audio.pk, audio.attempts, flush_seconds=0)
    Audio.objects.filter(pk=audio.pk).update(lifetime_status=Audio.Lifetime.DELETED)
    Audio.objects.filter(pk=audio.pk).update(status=Audio.Status.PENDING)  # released, say
    output = synthesize_text(TEXT, engine=FakeEngine(), voice="alpha", on_part=writer)
    assert output.mp3
    assert writer.stopped
    assert writer.written == 1  # the one part written before it noticed


@pytest.mark.django_db
def test_storage_trouble_stops_streaming_but_not_synthesis(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    audio = generating(page_of(alice), alice)

    def refuse(*args: object, **kwargs: object) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(default_storage, "save", refuse)
    writer = live.PartWriter(audio.pk, audio.attempts, flush_seconds=0)
    output = synthesize_text(TEXT, engine=FakeEngine(), voice="alpha", on_part=writer)
    assert output.mp3
    assert (writer.stopped, writer.written) == (True, 0)


@pytest.mark.django_db
def test_the_worker_leaves_no_parts_behind(
    alice: User, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        audio = services.create_audio_record(page=page_of(alice), voice="fake:alpha", user=alice)
    audio.refresh_from_db()
    assert audio.status == Audio.Status.COMPLETED
    assert audio.stream_parts >= 1  # it did stream
    assert not default_storage.exists(f"audio-stream/{audio.pk}/1/00000.mp3")


def leave_parts(audio_id: int, attempt: int, count: int = 2) -> None:
    """What a worker killed mid-synthesis leaves: the parts it had written."""
    for number in range(count):
        default_storage.save(live.part_key(audio_id, attempt, number), ContentFile(b"\xff\xfb"))


def part_folders() -> set[str]:
    root = Path(default_storage.path(live.PARTS_FOLDER))
    return {str(path.relative_to(root)) for path in root.glob("*/*")} if root.exists() else set()


@pytest.mark.django_db
def test_a_new_attempt_removes_the_parts_a_dead_worker_left(
    alice: User, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        audio = services.create_audio_record(page=page_of(alice), voice="fake:alpha", user=alice)
    # The first attempt's worker was killed after two parts; the message came back.
    Audio.objects.filter(pk=audio.pk).update(status=Audio.Status.GENERATING, attempts=1)
    leave_parts(audio.pk, 1)
    Audio.objects.filter(pk=audio.pk).update(status=Audio.Status.PENDING)
    services.synthesize_audio(audio_id=audio.pk)
    audio.refresh_from_db()
    assert (audio.status, audio.attempts) == (Audio.Status.COMPLETED, 2)
    assert part_folders() == set()
    assert not Path(default_storage.path(f"{live.PARTS_FOLDER}/{audio.pk}")).exists()


@pytest.mark.django_db
def test_the_sweep_keeps_only_the_parts_of_the_attempt_under_way(alice: User) -> None:
    page = page_of(alice)
    streaming = generating(page, alice)  # attempt 1, being made now
    Audio.objects.filter(pk=streaming.pk).update(attempts=3)
    leave_parts(streaming.pk, 3)  # the live attempt: a listener may be reading these
    leave_parts(streaming.pk, 2)  # an earlier attempt of the same audio
    failed = AudioFactory.create(page=page, voice="fake:beta", status=Audio.Status.FAILED)
    leave_parts(failed.pk, 1)  # its worker died for the last time; the sweep failed it
    leave_parts(987_654, 1)  # its row is gone (the document was deleted meanwhile)
    default_storage.save(f"{live.PARTS_FOLDER}/not-an-audio/0/00000.mp3", ContentFile(b"x"))

    assert live.sweep_stream_parts() == 3
    assert part_folders() == {f"{streaming.pk}/3", "not-an-audio/0"}
    assert parts_of(Audio.objects.get(pk=streaming.pk), 2) == [b"\xff\xfb", b"\xff\xfb"]
    assert live.sweep_stream_parts() == 0  # nothing more to do
    # Once the live attempt ends, its own discard removes the rest; the sweep would too.
    Audio.objects.filter(pk=streaming.pk).update(status=Audio.Status.COMPLETED)
    assert live.sweep_stream_parts() == 1
    assert part_folders() == {"not-an-audio/0"}


@pytest.mark.django_db
def test_the_sweep_is_quiet_when_nothing_was_ever_streamed() -> None:
    assert live.sweep_stream_parts() == 0


@pytest.mark.django_db
def test_a_store_that_cannot_list_leaves_the_sweep_for_next_time(
    alice: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    failed = AudioFactory.create(page=page_of(alice), status=Audio.Status.FAILED)
    leave_parts(failed.pk, 1)

    def refuse(path: str) -> Any:
        raise PermissionError("listing denied")

    monkeypatch.setattr(default_storage, "listdir", refuse)
    assert live.sweep_stream_parts() == 0
    assert "next sweep tries again" in caplog.text
    monkeypatch.undo()
    assert live.sweep_stream_parts() == 1


@pytest.mark.django_db
def test_the_periodic_sweep_removes_leftover_parts(alice: User) -> None:
    failed = AudioFactory.create(page=page_of(alice), status=Audio.Status.FAILED)
    leave_parts(failed.pk, 1)
    assert tasks.sweep_stuck_audio_task()["stream_parts_removed"] == 1
    assert part_folders() == set()


# --- The stream ----------------------------------------------------------------------------------


class Script:
    """Stands in for time: each sleep of the stream runs the next scripted change."""

    def __init__(self, *changes: Callable[[], None]) -> None:
        self.changes = list(changes)
        self.clock = Ticks()

    def sleep(self, seconds: float) -> None:
        self.clock.now += seconds
        if self.changes:
            self.changes.pop(0)()


def write_part(audio: Audio, number: int, data: bytes) -> None:
    default_storage.save(live.part_key(audio.pk, audio.attempts, number), ContentFile(data))
    Audio.objects.filter(pk=audio.pk).update(stream_parts=number + 1)


def drain(stream: Iterator[bytes]) -> list[bytes]:
    return list(stream)


@pytest.mark.django_db
def test_the_stream_sends_parts_as_they_come_then_the_rest_of_the_file(alice: User) -> None:
    audio = generating(page_of(alice), alice)
    final = bytes(range(256)) * 40

    def complete() -> None:
        key = default_storage.save("audio/streamed.mp3", ContentFile(final))
        for number in range(2):  # the worker removes its parts when synthesis ends
            default_storage.delete(live.part_key(audio.pk, 1, number))
        Audio.objects.filter(pk=audio.pk).update(status=Audio.Status.COMPLETED, file_key=key)

    script = Script(
        lambda: None,  # nothing yet
        lambda: write_part(audio, 0, final[:1000]),
        lambda: write_part(audio, 1, final[1000:2500]),
        lambda: None,  # parts gone, the row not yet complete: wait
        complete,
    )
    chunks = drain(live.stream_bytes(audio.pk, sleep=script.sleep, clock=script.clock))
    assert chunks[0] == final[:1000]
    assert chunks[1] == final[1000:2500]
    assert b"".join(chunks) == final


@pytest.mark.django_db
@pytest.mark.parametrize("ending", ["failed", "deleted", "restarted"])
def test_the_stream_ends_when_the_audio_cannot_be_continued(alice: User, ending: str) -> None:
    audio = generating(page_of(alice), alice)

    def end() -> None:
        if ending == "failed":
            Audio.objects.filter(pk=audio.pk).update(status=Audio.Status.FAILED)
        elif ending == "deleted":
            Audio.objects.filter(pk=audio.pk).update(lifetime_status=Audio.Lifetime.DELETED)
        else:  # a new attempt starts from the beginning: what was sent cannot be continued
            Audio.objects.filter(pk=audio.pk).update(attempts=2, stream_parts=0)

    script = Script(lambda: write_part(audio, 0, b"first part"), end)
    chunks = drain(live.stream_bytes(audio.pk, sleep=script.sleep, clock=script.clock))
    assert chunks == [b"first part"]


@pytest.mark.django_db
def test_a_stream_that_receives_nothing_gives_up(alice: User) -> None:
    audio = AudioFactory.create(page=page_of(alice), status=Audio.Status.PENDING)
    script = Script()
    assert drain(live.stream_bytes(audio.pk, sleep=script.sleep, clock=script.clock)) == []
    assert live.STREAM_IDLE_SECONDS <= script.clock.now <= live.STREAM_IDLE_SECONDS + 1


@pytest.mark.django_db(transaction=True)
def test_listening_starts_while_the_rest_is_still_being_made(alice: User, settings: Any) -> None:
    # A slow engine (0.15 s a sentence) in a worker thread; the stream is read meanwhile.
    settings.SPEECH_ENGINES = {**settings.SPEECH_ENGINES, "fake": {"delay_seconds": 0.15}}
    voices.reset_caches()
    audio = Audio.objects.create(
        page=page_of(alice), voice="fake:alpha", engine="fake", created_by=alice
    )  # pending, as the task finds it
    worker = making_in_a_thread(audio.pk)
    status_at_first_bytes = None
    received = []
    try:
        for chunk in live.stream_bytes(audio.pk):
            if status_at_first_bytes is None:
                status_at_first_bytes = Audio.objects.get(pk=audio.pk).status
            received.append(chunk)
    finally:
        worker.join(timeout=60)
    assert status_at_first_bytes == Audio.Status.GENERATING
    audio.refresh_from_db()
    assert audio.status == Audio.Status.COMPLETED
    with default_storage.open(audio.file_key, "rb") as stored:
        assert b"".join(received) == stored.read()


# --- The endpoint --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_made_audio_streams_as_its_download(
    alice: User, alice_client: APIClient, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        audio = services.create_audio_record(page=page_of(alice), voice="fake:alpha", user=alice)
    response = alice_client.get(f"/api/v1/audios/{audio.pk}/stream/", HTTP_RANGE="bytes=0-9")
    assert response.status_code == 206
    assert response["Content-Type"] == "audio/mpeg"
    assert len(b"".join(response.streaming_content)) == 10  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_audio_being_made_is_streamed_without_a_length(
    alice: User, alice_client: APIClient
) -> None:
    audio = generating(page_of(alice), alice)
    write_part(audio, 0, b"\xff\xf3first frames")
    key = default_storage.save("audio/whole.mp3", ContentFile(b"\xff\xf3first frames, and more"))
    response = alice_client.get(f"/api/v1/audios/{audio.pk}/stream/")
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/mpeg"
    assert response["Cache-Control"] == "no-store"
    assert not response.has_header("Content-Length")
    stream = iter(response.streaming_content)  # type: ignore[attr-defined]
    assert next(stream) == b"\xff\xf3first frames"
    Audio.objects.filter(pk=audio.pk).update(status=Audio.Status.COMPLETED, file_key=key)
    assert b"".join(stream) == b", and more"


@pytest.mark.django_db
def test_live_streams_are_limited_per_process_and_give_their_slot_back(
    alice: User, alice_client: APIClient, settings: Any
) -> None:
    settings.STREAM_MAX_PER_PROCESS = 2
    page = page_of(alice)
    audios = [generating(page, alice)]
    audios += [
        AudioFactory.create(page=page, voice=voice, status=Audio.Status.GENERATING, attempts=1)
        for voice in ("fake:beta", "fake:gamma")
    ]
    url = "/api/v1/audios/{}/stream/"
    first, second = (alice_client.get(url.format(audio.pk)) for audio in audios[:2])
    assert (first.status_code, second.status_code) == (200, 200)
    assert live.SLOTS.in_use == 2

    refused = alice_client.get(url.format(audios[2].pk))
    assert refused.status_code == 503
    assert refused["Retry-After"] == str(live.RETRY_STREAM_AFTER_SECONDS)
    assert refused.json()["error"]["code"] == "service_unavailable"
    assert "once it is made" in refused.json()["error"]["message"]
    # A made audio is a plain download: it never needs a slot.
    Audio.objects.filter(pk=audios[2].pk).update(
        status=Audio.Status.COMPLETED,
        file_key=default_storage.save("audio/made.mp3", ContentFile(b"\xff\xf3made")),
    )
    assert alice_client.get(url.format(audios[2].pk)).status_code == 200

    # Closing a response gives its slot back, whether or not a byte of it was read.
    close(first)
    assert live.SLOTS.in_use == 1
    third = alice_client.get(url.format(audios[0].pk))
    assert third.status_code == 200
    close(second)
    close(third)
    close(third)  # twice is harmless
    assert live.SLOTS.in_use == 0


def close(response: Any) -> None:
    """What the server does when a response is done, without closing the test's database
    connection (as Django's test client does for a streamed response it reads to the end)."""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def test_a_slot_is_given_back_once_however_often_it_is_released() -> None:
    slots = live.StreamSlots()
    release = slots.take()
    release()
    release()
    assert slots.in_use == 0


@pytest.mark.django_db
@pytest.mark.parametrize("listening", ["stream", "parts"])
def test_listening_is_refused_for_what_cannot_be_heard(
    alice: User,
    alice_client: APIClient,
    charlie_client: APIClient,
    anon_client: APIClient,
    listening: str,
) -> None:
    """The one-response stream and the manifest alike."""
    page = page_of(alice)
    failed = AudioFactory.create(page=page, status=Audio.Status.FAILED)
    deleted = AudioFactory.create(
        page=page, voice="fake:beta", lifetime_status=Audio.Lifetime.DELETED
    )
    pending = AudioFactory.create(page=page, voice="fake:beta", status=Audio.Status.PENDING)
    cases = [
        (alice_client, failed, 409),
        (alice_client, deleted, 404),
        (charlie_client, pending, 404),
        (anon_client, pending, 401),
    ]
    for client, audio, status in cases:
        response = client.get(f"/api/v1/audios/{audio.pk}/{listening}/")
        assert response.status_code == status
        assert response.json()["error"]["code"]


# --- The manifest: listening part by part ----------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_states(monkeypatch: pytest.MonkeyPatch) -> None:
    # What a process read of a row a moment ago is not kept between tests' rows of the same id.
    monkeypatch.setattr(live, "_states", {})


def follow(client: APIClient, parts_client: APIClient, audio_id: int) -> tuple[bytes, int]:
    """What a player does: the manifest, then its follow URL (without a session), each part
    they list, then the rest of the made file. Returns the bytes received and how many
    manifests were read."""
    received: list[bytes] = []
    count = 0
    looks = 0
    attempt = None
    url = f"/api/v1/audios/{audio_id}/parts/"
    asker = client
    while looks < 2000:
        looks += 1
        separator = "&" if "?" in url else "?"
        manifest = asker.get(f"{url}{separator}after={count}").json()
        if manifest["follow_url"]:
            url, asker = manifest["follow_url"], parts_client
        if manifest["status"] == "completed":
            sent = sum(len(part) for part in received)
            headers = {"Range": f"bytes={sent}-"} if sent else {}
            rest = client.get(manifest["rest_url"], headers=headers)
            if rest.status_code != 416:
                assert rest.status_code in (200, 206)
                received.append(b"".join(rest.streaming_content))  # type: ignore[attr-defined]
            return b"".join(received), looks
        assert manifest["first"] == count
        if attempt is not None:
            assert manifest["attempt"] == attempt
        attempt = manifest["attempt"]
        for address in manifest["parts"]:
            part = parts_client.get(address)
            if part.status_code == 404:
                break  # made meanwhile
            assert part.status_code == 200
            received.append(part.content)
            count += 1
        else:
            threading.Event().wait((manifest["poll_ms"] or 100) / 10_000)
    raise AssertionError("the audio was never made")


@pytest.mark.django_db
def test_the_manifest_lists_the_parts_stored_and_then_the_made_file(
    alice: User, alice_client: APIClient, anon_client: APIClient
) -> None:
    audio = AudioFactory.create(page=page_of(alice), status=Audio.Status.PENDING)
    pending = alice_client.get(f"/api/v1/audios/{audio.pk}/parts/").json()
    follow_url = pending.pop("follow_url")
    assert pending == {
        "status": "pending", "attempt": None, "first": 0, "parts": [], "rest_url": None,
        "poll_ms": live.PENDING_POLL_MS,
    }  # fmt: skip
    assert follow_url.startswith(f"/api/v1/audios/{audio.pk}/parts/follow/?token=")

    Audio.objects.filter(pk=audio.pk).update(status=Audio.Status.GENERATING, attempts=1)
    audio.refresh_from_db()
    write_part(audio, 0, b"\xff\xf3one")
    write_part(audio, 1, b"\xff\xf3two")
    manifest = alice_client.get(f"/api/v1/audios/{audio.pk}/parts/").json()
    assert (manifest["status"], manifest["attempt"], manifest["first"]) == ("generating", 1, 0)
    assert len(manifest["parts"]) == 2
    assert manifest["poll_ms"] == live.FIRST_PARTS_POLL_MS
    # Each part is read by its URL alone: no session, no account.
    assert [anon_client.get(url).content for url in manifest["parts"]] == [
        b"\xff\xf3one", b"\xff\xf3two",
    ]  # fmt: skip
    part = anon_client.get(manifest["parts"][0])
    assert part["Content-Type"] == "audio/mpeg"
    assert "immutable" in part["Cache-Control"]
    later = alice_client.get(f"/api/v1/audios/{audio.pk}/parts/", {"after": 2}).json()
    assert (later["first"], later["parts"]) == (2, [])

    key = default_storage.save("audio/whole.mp3", ContentFile(b"\xff\xf3one\xff\xf3two, and more"))
    Audio.objects.filter(pk=audio.pk).update(status=Audio.Status.COMPLETED, file_key=key)
    made = alice_client.get(f"/api/v1/audios/{audio.pk}/parts/", {"after": 2}).json()
    assert made["status"] == "completed"
    assert made["rest_url"] == f"/api/v1/audios/{audio.pk}/stream/"
    assert made["poll_ms"] is None
    assert made["follow_url"] is None
    rest = alice_client.get(made["rest_url"], HTTP_RANGE="bytes=10-")
    assert rest.status_code == 206
    assert b"".join(rest.streaming_content) == b", and more"  # type: ignore[attr-defined]
    # A count of parts received that cannot be is a 400.
    bad = alice_client.get(f"/api/v1/audios/{audio.pk}/parts/", {"after": "-1"})
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"]["after"]


@pytest.mark.django_db
def test_a_parts_url_reads_only_its_own_audio_and_attempt(
    alice: User, alice_client: APIClient, anon_client: APIClient
) -> None:
    page = page_of(alice)
    audio = generating(page, alice)
    other = AudioFactory.create(
        page=page, voice="fake:beta", status=Audio.Status.GENERATING, attempts=1
    )
    write_part(audio, 0, b"\xff\xf3mine")
    write_part(other, 0, b"\xff\xf3theirs")
    url = alice_client.get(f"/api/v1/audios/{audio.pk}/parts/").json()["parts"][0]
    token = url.split("token=", 1)[1]
    assert anon_client.get(url).status_code == 200
    forged = [
        f"/api/v1/audios/{other.pk}/parts/1/0.mp3?token={token}",  # another audio
        f"/api/v1/audios/{audio.pk}/parts/2/0.mp3?token={token}",  # another attempt
        f"/api/v1/audios/{audio.pk}/parts/1/0.mp3?token=x{token}",  # not a signature
        f"/api/v1/audios/{audio.pk}/parts/1/0.mp3",  # none
    ]
    for address in forged:
        refused = anon_client.get(address)
        assert refused.status_code == 404, address
        assert refused.json()["error"]["code"] == "not_found"
    # Once synthesis is over its parts are gone, and the manifest points at the made file.
    default_storage.delete(live.part_key(audio.pk, 1, 0))
    gone = anon_client.get(url)
    assert gone.status_code == 404
    assert "no longer stored" in gone.json()["error"]["message"]


@pytest.mark.django_db
def test_a_manifest_costs_a_few_small_queries(
    alice: User,
    bob: User,
    alice_client: APIClient,
    bob_client: APIClient,
    django_assert_max_num_queries: Callable[..., AbstractContextManager[Any]],
) -> None:
    from sharing.models import DocumentShare

    page = page_of(alice)
    audio = generating(page, alice)
    for number in range(20):
        write_part(audio, number, b"\xff\xf3part")
    DocumentShare.objects.create(
        document=page.document, shared_with=bob, shared_by=alice, permission="view_only"
    )
    for client in (alice_client, bob_client):
        client.get(f"/api/v1/audios/{audio.pk}/parts/")  # the first look logs the play
        # The token's user, the audio with its document, and (for a share) the share.
        with django_assert_max_num_queries(3):
            manifest = client.get(f"/api/v1/audios/{audio.pk}/parts/", {"after": 3}).json()
        assert len(manifest["parts"]) == 17


@pytest.mark.django_db(transaction=True)
def test_listeners_following_the_manifest_hear_the_made_file_byte_for_byte(
    alice: User, alice_client: APIClient, anon_client: APIClient, settings: Any
) -> None:
    # A slow engine (0.15 s a sentence) in a worker thread; the manifest is followed meanwhile.
    settings.SPEECH_ENGINES = {**settings.SPEECH_ENGINES, "fake": {"delay_seconds": 0.15}}
    voices.reset_caches()
    audio = Audio.objects.create(
        page=page_of(alice), voice="fake:alpha", engine="fake", created_by=alice
    )  # pending, as the task finds it
    worker = making_in_a_thread(audio.pk)
    try:
        heard, looks = follow(alice_client, anon_client, audio.pk)
    finally:
        worker.join(timeout=60)
    audio.refresh_from_db()
    assert audio.status == Audio.Status.COMPLETED
    assert looks > 2  # it was followed while being made, not only read once made
    with default_storage.open(audio.file_key, "rb") as stored:
        assert heard == stored.read()
    # One listening session is one Played line, however many looks it took.
    from sharing.models import AccessLog

    assert AccessLog.objects.filter(audio_id=audio.pk, action=AccessLog.Action.PLAY).count() == 1


def _unsigned(parts: list[str]) -> list[str]:
    return [part.partition("?token=")[0] for part in parts]


@pytest.mark.django_db
def test_the_follow_url_answers_as_the_manifest_for_its_audio_only(
    alice: User,
    alice_client: APIClient,
    anon_client: APIClient,
    django_assert_max_num_queries: Callable[..., AbstractContextManager[Any]],
) -> None:
    page = page_of(alice)
    audio = generating(page, alice)
    other = AudioFactory.create(page=page, voice="fake:beta", status=Audio.Status.PENDING)
    write_part(audio, 0, b"\xff\xf3one")
    first = alice_client.get(f"/api/v1/audios/{audio.pk}/parts/").json()
    token = first["follow_url"].split("token=", 1)[1]
    # Without a session, and from what the process read of the row a moment ago.
    with django_assert_max_num_queries(1):
        again = anon_client.get(f"{first['follow_url']}&after=0").json()
    # The same answer, but for the parts' signatures, which carry the second they were made in.
    assert {**again, "parts": _unsigned(again["parts"])} == {
        **first,
        "parts": _unsigned(first["parts"]),
    }
    assert len(first["parts"]) == 1
    for part in again["parts"]:
        assert anon_client.get(part).status_code == 200
    with django_assert_max_num_queries(0):
        assert anon_client.get(f"{first['follow_url']}&after=1").json()["parts"] == []
    refused = [
        f"/api/v1/audios/{other.pk}/parts/follow/?token={token}",  # another audio
        f"/api/v1/audios/{audio.pk}/parts/follow/?token=x{token}",
        f"/api/v1/audios/{audio.pk}/parts/follow/",
    ]
    for address in refused:
        answer = anon_client.get(address)
        assert answer.status_code == 404, address
        assert answer.json()["error"]["code"] == "not_found"
    assert anon_client.get(f"{first['follow_url']}&after=x").status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize(("ending", "status"), [("failed", 409), ("deleted", 404)])
def test_the_follow_url_says_when_the_audio_cannot_be_heard(
    alice: User, alice_client: APIClient, anon_client: APIClient, ending: str, status: int
) -> None:
    audio = generating(page_of(alice), alice)
    follow_url = alice_client.get(f"/api/v1/audios/{audio.pk}/parts/").json()["follow_url"]
    if ending == "failed":
        Audio.objects.filter(pk=audio.pk).update(status=Audio.Status.FAILED)
    else:
        Audio.objects.filter(pk=audio.pk).update(lifetime_status=Audio.Lifetime.DELETED)
    live._states.clear()  # (a moment later)
    answer = anon_client.get(follow_url)
    assert answer.status_code == status
    assert answer.json()["error"]["message"]


def test_a_process_reads_an_audios_state_again_after_a_moment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads: list[int] = []

    class Rows:
        def filter(self, pk: int) -> Rows:
            reads.append(pk)
            return self

        def values_list(self, *fields: str) -> Rows:
            return self

        def first(self) -> tuple[str, str, int, int]:
            return ("generating", "active", 1, len(reads))

    monkeypatch.setattr(live.Audio, "objects", Rows())
    clock = Ticks()
    first = live.live_state(7, clock=clock)
    clock.now += live.STATE_FRESH_SECONDS / 2
    assert live.live_state(7, clock=clock) == first
    assert reads == [7]
    clock.now += live.STATE_FRESH_SECONDS
    later = live.live_state(7, clock=clock)
    assert later is not None
    assert later.stream_parts == 2
    assert reads == [7, 7]
