"""Account exports: the ZIP's contents, progress, download, conflicts, expiry and lost work."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import client_for
from document_processing import services as document_services
from document_processing.models import Document
from document_processing.tests.factories import document_with_pages
from exports import services
from exports.models import Export
from exports.tasks import MAX_RETRIES, build_export_task
from sharing import audit
from sharing.models import AccessLog, DocumentShare
from speech_processing.models import Audio
from speech_processing.tests.conftest import run_task
from speech_processing.tests.factories import AudioFactory
from users.models import User

pytestmark = pytest.mark.django_db

Capture = Callable[..., AbstractContextManager[Any]]
START = "/api/v1/auth/me/export/"
MP3 = b"\xff\xfb\x90\x00" + bytes(range(256)) * 40
TIMINGS = [{"start": 0.0, "end": 1.5, "char_start": 0, "char_end": 20}]


def detail(export_id: int) -> str:
    return f"/api/v1/exports/{export_id}/"


def download(export_id: int) -> str:
    return f"/api/v1/exports/{export_id}/download/"


def body_of(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def stored_keys(folder: str = "") -> set[str]:
    """Every file under a storage folder, listed through the storage itself."""
    found: set[str] = set()

    def walk(prefix: str) -> None:
        directories, files = default_storage.listdir(prefix)
        found.update(f"{prefix}/{name}" if prefix else name for name in files)
        for name in directories:
            walk(f"{prefix}/{name}" if prefix else name)

    if default_storage.exists(folder):
        walk(folder)
    return found


def finished_export(client: APIClient, capture: Capture) -> dict[str, Any]:
    with capture(execute=True):
        response = client.post(START)
    assert response.status_code == 202, response.content
    body = client.get(detail(response.json()["id"])).json()
    assert body["status"] == "completed", body
    return dict(body)


def zip_of(client: APIClient, export_id: int) -> zipfile.ZipFile:
    response = client.get(download(export_id))
    assert response.status_code == 200
    return zipfile.ZipFile(io.BytesIO(body_of(response)))


COVER = b"\xff\xd8\xff\xe0 a cover"


def alice_library(alice: User, bob: User) -> dict[str, Any]:
    """A pasted document (with its stored original), two pages, an audio, a share to bob."""
    with_original = document_services.create_document_from_text(
        owner=alice, title="The lighthouse", text="# The keeper\n\nHe lit the lamp at dusk."
    )
    Document.objects.filter(pk=with_original.pk).update(status=Document.Status.COMPLETED)
    document = document_with_pages(owner=alice, pages=2, title="Notes on ships")
    cover_key = default_storage.save("covers/ships.jpg", ContentFile(COVER))
    Document.objects.filter(pk=document.pk).update(cover_key=cover_key)
    page = document.pages.get(number=2)
    key = default_storage.save("audio/alice.mp3", ContentFile(MP3))
    audio = AudioFactory.create(
        page=page, file_key=key, size_bytes=len(MP3), duration_seconds=1.5, timings=TIMINGS,
        voice="fake:beta", created_by=bob,
    )  # fmt: skip
    AudioFactory.create(page=page, voice="fake:alpha", status=Audio.Status.FAILED)
    DocumentShare.objects.create(
        document=document, shared_with=bob, permission="collaborator", shared_by=alice
    )
    audit.record(user=alice, action=AccessLog.Action.SHARE, document=document,
                 details={"permission": "collaborator"})  # fmt: skip
    audit.record(user=bob, action=AccessLog.Action.PLAY, document=document)
    return {"original": with_original, "document": document, "audio": audio}


# --- What the ZIP holds -----------------------------------------------------------------------


def test_the_export_holds_documents_pages_audio_shares_and_activity(
    alice: User, bob: User, alice_client: APIClient, django_capture_on_commit_callbacks: Capture
) -> None:
    library = alice_library(alice, bob)
    bobs = document_with_pages(owner=bob, pages=1, title="Bob's own")
    DocumentShare.objects.create(document=bobs, shared_with=alice, permission="view_only")

    body = finished_export(alice_client, django_capture_on_commit_callbacks)

    assert body["download_url"] == download(body["id"])
    assert body["error_message"] == ""
    archive = zip_of(alice_client, body["id"])
    assert archive.testzip() is None
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["format"] == "pagecast-export"
    assert manifest["account"]["email"] == "alice@example.com"
    titles = [document["title"] for document in manifest["documents"]]
    assert titles == ["The lighthouse", "Notes on ships"]  # hers only, oldest first

    pasted, notes = manifest["documents"]
    original_path = pasted["original"]
    assert original_path == f"documents/{library['original'].pk}/original/original.md"
    assert archive.read(original_path) == b"# The keeper\n\nHe lit the lamp at dusk."
    assert pasted["audio"] == []
    assert pasted["shares"] == []
    assert pasted["cover"] is None

    assert notes["original"] is None  # made by the factory without a stored file
    assert notes["cover"] == f"documents/{library['document'].pk}/cover.jpg"
    assert archive.read(notes["cover"]) == COVER
    assert [page["number"] for page in notes["pages"]] == [1, 2]
    assert archive.read(notes["pages"][1]["markdown"]).decode() == (
        library["document"].pages.get(number=2).markdown
    )
    assert notes["shares"] == [
        {"shared_with": "bob@example.com", "permission": "collaborator",
         "shared_by": "alice@example.com", "created_at": notes["shares"][0]["created_at"]},
    ]  # fmt: skip
    [audio] = notes["audio"]  # the failed attempt has no file and is left out
    assert audio["voice"] == "fake:beta"
    assert audio["voice_name"] == "Beta (English (GB), Test tones)"
    assert audio["page_number"] == 2
    # Named by page number and voice, the timings beside it.
    folder = f"documents/{library['document'].pk}/audio"
    assert audio["file"] == f"{folder}/2 - Beta (English (GB), Test tones).mp3"
    assert audio["timings"] == f"{folder}/2 - Beta (English (GB), Test tones).json"
    assert archive.read(audio["file"]) == MP3
    timings = json.loads(archive.read(audio["timings"]))
    assert timings["timings"] == TIMINGS
    assert timings["voice"] == "fake:beta"

    activity = [json.loads(line) for line in archive.read("activity.jsonl").splitlines()]
    assert [(entry["action"], entry["details"]) for entry in activity] == [
        ("add", {"source": "text"}),
        ("share", {"permission": "collaborator"}),
    ]  # alice's own entries only, not bob's play
    assert manifest["activity"] == {"file": "activity.jsonl", "entries": 2}
    assert not any("Bob's own" in name for name in archive.namelist())


def test_an_account_with_no_documents_gets_a_valid_zip_with_an_empty_manifest(
    alice_client: APIClient, django_capture_on_commit_callbacks: Capture
) -> None:
    body = finished_export(alice_client, django_capture_on_commit_callbacks)

    archive = zip_of(alice_client, body["id"])
    assert archive.testzip() is None
    assert sorted(archive.namelist()) == ["activity.jsonl", "manifest.json"]
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["documents"] == []
    assert manifest["activity"]["entries"] == 0
    assert archive.read("activity.jsonl") == b""


def test_a_stored_file_that_storage_lost_is_left_out_not_fatal(
    alice: User, bob: User, alice_client: APIClient, django_capture_on_commit_callbacks: Capture
) -> None:
    library = alice_library(alice, bob)
    default_storage.delete(library["audio"].file_key)

    body = finished_export(alice_client, django_capture_on_commit_callbacks)

    manifest = json.loads(zip_of(alice_client, body["id"]).read("manifest.json"))
    assert manifest["documents"][1]["audio"][0]["file"] is None


# --- Progress, download, conflicts ------------------------------------------------------------


def test_start_answers_202_pending_and_the_zip_lands_in_storage(
    alice: User, alice_client: APIClient, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(START)

    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    assert response.json()["download_url"] is None
    export = Export.objects.get(pk=response.json()["id"])
    assert export.user == alice
    assert export.status == Export.Status.COMPLETED
    assert export.file_key.startswith("exports/")
    assert export.file_key.endswith(".zip")
    assert stored_keys("exports") == {export.file_key}
    assert export.size_bytes == default_storage.size(export.file_key)
    assert export.expires_at is not None
    assert export.completed_at is not None
    assert export.expires_at - export.completed_at == timedelta(days=7)


def test_the_download_streams_the_zip_with_range_support(
    alice_client: APIClient, django_capture_on_commit_callbacks: Capture
) -> None:
    body = finished_export(alice_client, django_capture_on_commit_callbacks)

    whole = alice_client.get(download(body["id"]))
    assert whole.status_code == 200
    assert whole["Content-Type"] == "application/zip"
    assert whole["Accept-Ranges"] == "bytes"
    assert whole["Content-Disposition"].startswith('attachment; filename="pagecast-export-')
    content = body_of(whole)
    part = alice_client.get(download(body["id"]), HTTP_RANGE="bytes=0-3")
    assert part.status_code == 206
    assert body_of(part) == content[:4] == b"PK\x03\x04"


def test_the_retention_setting_decides_the_expiry(
    settings: Any, alice_client: APIClient, django_capture_on_commit_callbacks: Capture
) -> None:
    settings.EXPORT_RETENTION_DAYS = 2
    body = finished_export(alice_client, django_capture_on_commit_callbacks)

    export = Export.objects.get(pk=body["id"])
    assert export.completed_at
    assert export.expires_at
    assert export.expires_at - export.completed_at == timedelta(days=2)


def test_a_second_export_while_one_runs_is_a_conflict(
    alice: User, alice_client: APIClient, django_capture_on_commit_callbacks: Capture
) -> None:
    first = alice_client.post(START)  # never picked up: stays pending
    assert first.status_code == 202

    second = alice_client.post(START)

    assert second.status_code == 409
    assert second.json()["error"]["code"] == "conflict"
    assert Export.objects.filter(user=alice).count() == 1
    Export.objects.filter(pk=first.json()["id"]).update(status=Export.Status.RUNNING)
    assert alice_client.post(START).status_code == 409
    Export.objects.filter(pk=first.json()["id"]).update(status=Export.Status.FAILED)
    assert alice_client.post(START).status_code == 202


def test_the_conflict_holds_when_two_requests_race(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests at once can both pass the check before the insert; the conditional unique
    constraint then refuses the second insert, which is a conflict too."""
    from core.exceptions import Conflict

    Export.objects.create(user=alice, status=Export.Status.RUNNING)
    real_filter = Export.objects.filter

    def check_that_saw_nothing(*args: Any, **kwargs: Any) -> Any:
        found = real_filter(*args, **kwargs)
        return found.none() if "status__in" in kwargs else found

    monkeypatch.setattr(Export.objects, "filter", check_that_saw_nothing)
    with pytest.raises(Conflict):
        services.start_export(user=alice)
    monkeypatch.undo()
    assert Export.objects.filter(user=alice).count() == 1


def test_people_other_than_the_owner_get_404_for_an_export(
    alice_client: APIClient, bob_client: APIClient, django_capture_on_commit_callbacks: Capture
) -> None:
    body = finished_export(alice_client, django_capture_on_commit_callbacks)

    for path in (detail(body["id"]), download(body["id"])):
        response = bob_client.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert bob_client.get(detail(999_999)).status_code == 404
    assert APIClient().get(download(body["id"])).status_code == 401


def test_a_download_before_the_zip_is_ready_is_409_and_after_expiry_404(
    alice: User, alice_client: APIClient, django_capture_on_commit_callbacks: Capture
) -> None:
    waiting = alice_client.post(START).json()
    early = alice_client.get(download(waiting["id"]))
    assert early.status_code == 409
    assert early.json()["error"]["code"] == "conflict"
    Export.objects.filter(pk=waiting["id"]).delete()

    body = finished_export(alice_client, django_capture_on_commit_callbacks)
    export = Export.objects.get(pk=body["id"])
    # Past its expiry and not swept yet: already refused.
    Export.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    late = alice_client.get(download(export.pk))
    assert late.status_code == 404
    assert alice_client.get(detail(export.pk)).json()["download_url"] is None


# --- Failures -----------------------------------------------------------------------------------


def flaky_save(failures: int) -> Callable[..., str]:
    """FileSystemStorage._save failing with a connection error the first `failures` times."""
    real_save = FileSystemStorage._save  # type: ignore[attr-defined]
    left = [failures]

    def save(storage: FileSystemStorage, name: str, content: Any) -> str:
        if left[0] > 0:
            left[0] -= 1
            raise ConnectionResetError("storage went away")
        return str(real_save(storage, name, content))

    return save


def test_storage_that_is_briefly_unreachable_is_retried(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = Export.objects.create(user=alice)
    monkeypatch.setattr(FileSystemStorage, "_save", flaky_save(2))

    run_task(build_export_task, export.pk)

    export.refresh_from_db()
    assert export.status == Export.Status.COMPLETED
    assert export.attempts == 3
    assert stored_keys("exports") == {export.file_key}


def test_storage_unreachable_through_every_retry_fails_with_a_sentence(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = Export.objects.create(user=alice)
    monkeypatch.setattr(FileSystemStorage, "_save", flaky_save(MAX_RETRIES + 1))

    run_task(build_export_task, export.pk)

    export.refresh_from_db()
    assert export.status == Export.Status.FAILED
    assert export.error == "The export could not be stored. Please try again later."
    assert stored_keys("exports") == set()


def test_an_unexpected_error_fails_at_once_without_leaking_and_leaves_no_file(
    alice: User, alice_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = Export.objects.create(user=alice)

    def broken(**kwargs: Any) -> None:
        raise KeyError("secret internal detail")

    monkeypatch.setattr(services, "write_archive", broken)

    run_task(build_export_task, export.pk)

    export.refresh_from_db()
    assert export.status == Export.Status.FAILED
    assert export.attempts == 1
    assert export.error.startswith("Your export could not be made (error ")
    assert "secret" not in export.error
    assert stored_keys("exports") == set()
    body = alice_client.get(detail(export.pk)).json()
    assert body["status"] == "failed"
    assert body["error_message"] == export.error
    assert alice_client.get(download(export.pk)).status_code == 404


def test_a_zip_whose_export_was_deleted_meanwhile_is_removed(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = Export.objects.create(user=alice)
    real = services.write_archive

    def deleted_while_writing(**kwargs: Any) -> Any:
        Export.objects.filter(pk=export.pk).delete()
        return real(**kwargs)

    monkeypatch.setattr(services, "write_archive", deleted_while_writing)

    build_export_task.delay(export.pk)

    assert not Export.objects.filter(pk=export.pk).exists()
    assert stored_keys("exports") == set()


def test_running_the_task_twice_builds_one_zip(alice: User) -> None:
    export = Export.objects.create(user=alice)

    build_export_task.delay(export.pk)
    build_export_task.delay(export.pk)

    export.refresh_from_db()
    assert export.attempts == 1
    assert stored_keys("exports") == {export.file_key}


def deliver(export: Export, *, redelivered: bool) -> Export:
    """The export task, run as a worker runs a message with this delivery flag."""
    task: Any = build_export_task  # (the stubs do not know the request's fields)
    task.push_request(
        id="an-export", args=[export.pk], kwargs={}, retries=0, is_eager=False,
        called_directly=False, delivery_info={"routing_key": "default", "redelivered": redelivered},
    )  # fmt: skip
    try:
        task.run(export.pk)
    finally:
        task.pop_request()
    export.refresh_from_db()
    return export


def running_export(user: User, *, attempts: int = 1) -> Export:
    """An export whose worker claimed it and then died (SIGKILL, out of memory)."""
    return Export.objects.create(
        user=user, status=Export.Status.RUNNING, attempts=attempts, started_at=timezone.now()
    )


def test_a_redelivered_message_takes_over_the_export_of_a_dead_worker(alice: User) -> None:
    export = deliver(running_export(alice), redelivered=True)

    assert (export.status, export.attempts) == (Export.Status.COMPLETED, 2)
    assert stored_keys("exports") == {export.file_key}


def test_a_duplicate_message_leaves_a_running_export_alone(alice: User) -> None:
    export = deliver(running_export(alice), redelivered=False)

    assert (export.status, export.attempts) == (Export.Status.RUNNING, 1)
    assert stored_keys("exports") == set()


def test_an_export_whose_workers_keep_dying_fails_clearly(alice: User) -> None:
    export = deliver(running_export(alice, attempts=services.MAX_ATTEMPTS), redelivered=True)

    assert export.status == Export.Status.FAILED
    assert export.error == services.INTERRUPTED_AGAIN
    assert "interrupted several times" in export.error
    assert stored_keys("exports") == set()
    # A finished export is never made again, however often its message comes back.
    Export.objects.filter(pk=export.pk).update(status=Export.Status.COMPLETED, attempts=1)
    export = deliver(export, redelivered=True)
    assert (export.status, export.attempts) == (Export.Status.COMPLETED, 1)


# --- The sweep: expiry and lost work ------------------------------------------------------------


def test_the_sweep_deletes_expired_zips_and_marks_them_expired(
    alice: User, bob: User, django_capture_on_commit_callbacks: Capture
) -> None:
    for person in (alice, bob):
        with django_capture_on_commit_callbacks(execute=True):
            services.start_export(user=person)
    old = Export.objects.get(user=alice)
    fresh = Export.objects.get(user=bob)
    Export.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    result = services.sweep_exports()

    assert result["expired"] == 1
    old.refresh_from_db()
    assert old.status == Export.Status.EXPIRED
    assert old.file_key == ""
    assert stored_keys("exports") == {fresh.file_key}
    assert client_for(alice).get(download(old.pk)).status_code == 404
    assert services.sweep_exports()["expired"] == 0


def test_an_expired_zip_storage_refuses_to_delete_is_tried_again(
    alice: User, django_capture_on_commit_callbacks: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        export = services.start_export(user=alice)
    Export.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    real_delete = FileSystemStorage.delete

    def refuse(storage: FileSystemStorage, name: str) -> None:
        raise ConnectionResetError("storage went away")

    monkeypatch.setattr(FileSystemStorage, "delete", refuse)
    assert services.sweep_exports()["expired"] == 0
    export.refresh_from_db()
    assert export.status == Export.Status.COMPLETED
    assert export.file_key

    monkeypatch.setattr(FileSystemStorage, "delete", real_delete)
    assert services.sweep_exports()["expired"] == 1
    assert stored_keys("exports") == set()


def test_the_sweep_fails_exports_whose_worker_died_and_requeues_lost_ones(
    settings: Any, alice: User, bob: User, django_capture_on_commit_callbacks: Capture
) -> None:
    long_ago = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 120)
    dead = Export.objects.create(user=alice, status=Export.Status.RUNNING, started_at=long_ago)
    lost = Export.objects.create(user=bob)
    Export.objects.filter(pk=lost.pk).update(updated_at=long_ago)

    with django_capture_on_commit_callbacks(execute=True):
        result = services.sweep_exports()

    assert result == {"expired": 0, "failed": 1, "requeued": 1}
    dead.refresh_from_db()
    lost.refresh_from_db()
    assert dead.status == Export.Status.FAILED
    assert dead.error == "Making this export was interrupted. Please start a new one."
    assert lost.status == Export.Status.COMPLETED
    # The person whose export failed may start again.
    assert client_for(alice).post(START).status_code == 202


def test_the_sweep_is_scheduled_and_the_tasks_go_to_the_default_queue(settings: Any) -> None:
    from core.celery import app

    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"exports.sweep_exports", "exports.export_audit_log"} <= schedule
    for name in ("exports.build_export", "exports.sweep_exports", "exports.export_audit_log"):
        assert app.amqp.router.route({}, name)["queue"].name == "default"
    assert app.amqp.router.route({}, "speech_processing.generate_audio")["queue"].name == "speech"


# --- The settings page ----------------------------------------------------------------------------


def browser_of(person: User) -> Client:
    client = Client()
    client.force_login(person)
    return client


def test_the_settings_page_starts_an_export_and_links_its_zip(
    alice: User, django_capture_on_commit_callbacks: Capture
) -> None:
    browser = browser_of(alice)
    assert 'action="/settings/export/"' in browser.get("/settings/").content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        started = browser.post("/settings/export/")

    assert started.status_code == 302
    assert started["Location"] == "/settings/#data-title"
    export = Export.objects.get(user=alice)
    html = browser.get("/settings/").content.decode()
    assert f'href="/api/v1/exports/{export.pk}/download/"' in html
    zipped = browser.get(f"/api/v1/exports/{export.pk}/download/")
    assert zipped.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(body_of(zipped))).testzip() is None


def test_the_settings_page_tells_how_the_last_export_went(alice: User) -> None:
    browser = browser_of(alice)
    export = Export.objects.create(user=alice)
    assert "Your export is being made." in browser.get("/settings/").content.decode()

    refused = browser.post("/settings/export/", follow=True)
    assert "An export is already being made." in refused.content.decode()
    assert Export.objects.filter(user=alice).count() == 1

    Export.objects.filter(pk=export.pk).update(status="failed", error="It went wrong (abc).")
    assert "It went wrong (abc)." in browser.get("/settings/").content.decode()
    Export.objects.filter(pk=export.pk).update(status="expired")
    html = browser.get("/settings/").content.decode()
    assert "Your last export has expired." in html
    assert "/download/" not in html


def test_staff_see_exports_in_the_admin_without_changing_them(alice: User) -> None:
    export = Export.objects.create(user=alice)
    staff = User.objects.create_superuser(email="staff@example.com", password="x" * 12)
    browser = browser_of(staff)

    listing = browser.get("/admin/exports/export/", {"q": "alice"})
    assert listing.status_code == 200
    assert "alice@example.com" in listing.content.decode()
    assert browser.get(f"/admin/exports/export/{export.pk}/change/").status_code == 200
    refused = browser.post(f"/admin/exports/export/{export.pk}/delete/", {"post": "yes"})
    assert refused.status_code == 403
    assert Export.objects.filter(pk=export.pk).exists()


# --- Audiobooks -------------------------------------------------------------------------------


def test_the_export_holds_each_voices_latest_audiobook_named_by_the_title(
    alice: User, alice_client: APIClient, django_capture_on_commit_callbacks: Capture
) -> None:
    from speech_processing.models import Audiobook

    document = document_with_pages(owner=alice, pages=2, title="Notes on ships/boats")
    chapters = [{"title": "Page 1", "start": 0.0, "end": 1.5}]

    def book(voice: str, content: bytes, **fields: Any) -> Audiobook:
        key = default_storage.save("audiobooks/book.m4b", ContentFile(content))
        return Audiobook.objects.create(
            document=document, voice=voice, status=Audiobook.Status.COMPLETED, file_key=key,
            size_bytes=len(content), duration_seconds=1.5, chapters=chapters,
            completed_at=timezone.now(), **fields,
        )  # fmt: skip

    older = book("fake:alpha", b"older alpha")
    Audiobook.objects.filter(pk=older.pk).update(completed_at=timezone.now() - timedelta(days=1))
    alpha = book("fake:alpha", b"alpha book")
    beta = book("fake:beta", b"beta book")
    Audiobook.objects.create(document=document, voice="fake:gamma")  # still being made

    body = finished_export(alice_client, django_capture_on_commit_callbacks)

    archive = zip_of(alice_client, body["id"])
    [entry] = json.loads(archive.read("manifest.json"))["documents"]
    folder = f"documents/{document.pk}/audiobook"
    assert [(item["id"], item["voice"], item["file"]) for item in entry["audiobooks"]] == [
        (alpha.pk, "fake:alpha", f"{folder}/Notes on ships-boats (alpha).m4b"),
        (beta.pk, "fake:beta", f"{folder}/Notes on ships-boats (beta).m4b"),
    ]
    assert archive.read(entry["audiobooks"][0]["file"]) == b"alpha book"
    assert archive.read(entry["audiobooks"][1]["file"]) == b"beta book"
    assert entry["audiobooks"][0]["chapters"] == chapters
    assert entry["audiobooks"][0]["duration_seconds"] == 1.5
    assert not any(name.endswith(f"/{older.pk}.m4b") or "book.m4b" in name
                   for name in archive.namelist())  # fmt: skip


def test_a_single_audiobook_is_named_by_the_title_alone(
    alice: User, alice_client: APIClient, django_capture_on_commit_callbacks: Capture
) -> None:
    from speech_processing.models import Audiobook

    document = document_with_pages(owner=alice, pages=1, title="Café notes")
    key = default_storage.save("audiobooks/book.m4b", ContentFile(b"one book"))
    Audiobook.objects.create(
        document=document, voice="fake:alpha", status=Audiobook.Status.COMPLETED, file_key=key,
        size_bytes=8,
    )  # fmt: skip

    body = finished_export(alice_client, django_capture_on_commit_callbacks)

    archive = zip_of(alice_client, body["id"])
    [entry] = json.loads(archive.read("manifest.json"))["documents"]
    [only] = entry["audiobooks"]
    assert only["file"] == f"documents/{document.pk}/audiobook/Café notes.m4b"
    assert archive.read(only["file"]) == b"one book"


def test_audio_of_each_page_is_named_by_page_and_voice_without_clashes(
    alice: User, alice_client: APIClient, django_capture_on_commit_callbacks: Capture
) -> None:
    document = document_with_pages(owner=alice, pages=2, title="Voices")
    first, second = document.pages.order_by("number")
    made = [
        (first, "fake:alpha"),
        (second, "fake:alpha"),
        (second, "fake:beta"),
        # A voice no longer offered: its name comes from its id.
        (second, "piper:en_GB-alba-x_low"),
        # Another engine's voice with the same display name as one already in the folder.
        (second, "piper:en_GB-alba-x_low-copy"),
    ]
    for page, voice in made:
        key = default_storage.save("audio/named.mp3", ContentFile(voice.encode()))
        AudioFactory.create(page=page, voice=voice, file_key=key, size_bytes=len(voice))
    clash = Audio.objects.get(voice="piper:en_GB-alba-x_low-copy")

    def same_name(voice_id: str) -> str:
        known = {"piper:en_GB-alba-x_low-copy": "piper:en_GB-alba-x_low"}
        return real_display_name_of(known.get(voice_id, voice_id))

    from speech_processing import voices

    real_display_name_of = voices.display_name_of
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(voices, "display_name_of", same_name)
        body = finished_export(alice_client, django_capture_on_commit_callbacks)
    archive = zip_of(alice_client, body["id"])
    [entry] = json.loads(archive.read("manifest.json"))["documents"]
    folder = f"documents/{document.pk}/audio"
    names = {item["id"]: item["file"].removeprefix(f"{folder}/") for item in entry["audio"]}
    assert sorted(names.values()) == [
        "1 - Alpha (English (US), Test tones).mp3",
        "2 - Alba (English (GB), Piper, x-low) 2.mp3",
        "2 - Alba (English (GB), Piper, x-low).mp3",
        "2 - Alpha (English (US), Test tones).mp3",
        "2 - Beta (English (GB), Test tones).mp3",
    ]
    assert names[clash.pk] == "2 - Alba (English (GB), Piper, x-low) 2.mp3"
    for item in entry["audio"]:
        assert item["timings"] == item["file"].removesuffix(".mp3") + ".json"
        assert archive.read(item["file"]) == item["voice"].encode()
        assert json.loads(archive.read(item["timings"]))["voice"] == item["voice"]
