"""Deleting an account: everything of the person goes (rows and stored files), survives a crash
half-way, keeps the audit trail with an anonymous id, and tells the people who had its documents.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.apps import apps
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth import SESSION_KEY
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import models
from django.db.models.functions import Cast
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from conftest import client_for
from document_processing import services as document_services
from document_processing.models import Document, Page
from document_processing.tests.factories import document_with_pages
from exports import services as export_services
from exports.models import Export
from operations.models import UsageRecord
from sharing import audit
from sharing.models import AccessLog, DocumentShare
from speech_processing.models import Audio, PlaybackPosition
from speech_processing.tests.factories import AudioFactory
from users import deletion
from users.models import AccountDeletion, User
from users.tasks import purge_account_task
from users.tests.factories import DEFAULT_PASSWORD, UserFactory
from users.tests.test_social import FakeGitHub, sign_in_with_github
from users.tests.test_social import github as github

pytestmark = pytest.mark.django_db

Capture = Callable[..., AbstractContextManager[Any]]
ME = "/api/v1/auth/me/"
MP3 = b"\xff\xfb\x90\x00" * 300


@pytest.fixture(autouse=True)
def _own_storage(settings: Any, tmp_path: Path) -> None:
    """A storage folder for each test, so listing it shows exactly what the test stored."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media"), "base_url": "/protected-media/"},
        },
    }


def stored_files() -> set[str]:
    """Every file in storage, listed from the storage's folder on disk (not through the code
    under test)."""
    root = Path(default_storage.location)  # type: ignore[attr-defined]
    if not root.exists():
        return set()
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def store(key: str, data: bytes = MP3) -> str:
    return default_storage.save(key, ContentFile(data))


@dataclass
class AliceWorld:
    """Alice and everything that touches her, with what must stay afterwards."""

    alice_id: int
    document_ids: set[int]
    page_ids: set[int]
    audio_ids: set[int]
    her_files: set[str]
    others_files: set[str]
    charlies_document: Document
    audio_she_made_for_charlie: Audio
    api: APIClient
    browser: Client
    extra: dict[str, Any] = field(default_factory=dict)


def build_alice(alice: User, bob: User, charlie: User) -> AliceWorld:
    # Her documents: one with a stored original and one with pages, audio, a share to bob.
    pasted = document_services.create_document_from_text(
        owner=alice, title="Alice's diary", text="# Monday\n\nA quiet day."
    )
    notes = document_with_pages(owner=alice, pages=2, title="Alice's notes")
    notes_cover = store("covers/alice-notes.jpg", b"\xff\xd8\xff")
    Document.objects.filter(pk=notes.pk).update(cover_key=notes_cover)
    page = notes.pages.get(number=1)
    hers = AudioFactory.create(page=page, file_key=store("audio/alice-1.mp3"), created_by=alice)
    bobs_on_hers = AudioFactory.create(
        page=page, voice="fake:beta", file_key=store("audio/bob-on-alice.mp3"), created_by=bob
    )
    PlaybackPosition.objects.create(user=bob, audio=hers, position_seconds=3)
    DocumentShare.objects.create(
        document=notes, shared_with=bob, permission="collaborator", shared_by=alice
    )
    # Charlie's document, shared with her; she made audio of it and listened to it.
    charlies = document_with_pages(owner=charlie, pages=1, title="Charlie's plans")
    charlie_original = store("originals/charlie.md", b"# Plans")
    Document.objects.filter(pk=charlies.pk).update(file_key=charlie_original)
    DocumentShare.objects.create(
        document=charlies, shared_with=alice, permission="collaborator", shared_by=charlie
    )
    made_for_charlie = AudioFactory.create(
        page=charlies.pages.get(), file_key=store("audio/alice-on-charlie.mp3"), created_by=alice
    )
    PlaybackPosition.objects.create(user=alice, audio=made_for_charlie, position_seconds=1)
    # Her export, sign-ins, audit entries and other traces.
    export = Export.objects.create(
        user=alice, status=Export.Status.COMPLETED, file_key=store("exports/alice.zip", b"PK"),
        expires_at=timezone.now() + timedelta(days=7),
    )  # fmt: skip
    SocialAccount.objects.create(user=alice, provider="github", uid="4242")
    UsageRecord.objects.create(
        user=alice, engine="fake", month=timezone.now().date().replace(day=1), characters=10
    )
    LogEntry.objects.create(
        user=alice, object_repr="something", action_flag=ADDITION, change_message="[]"
    )
    about_her = LogEntry.objects.create(
        user=charlie, content_type=ContentType.objects.get_for_model(User),
        object_id=str(alice.pk), object_repr=str(alice), action_flag=CHANGE,
        change_message='[{"changed": {"fields": ["Display name"]}}]',
    )  # fmt: skip
    audit.record(user=alice, action=AccessLog.Action.SHARE, document=notes,
                 details={"permission": "collaborator"})  # fmt: skip
    audit.record(user=alice, action=AccessLog.Action.DELETE,
                 details={"document_id": 999, "title": "Alice's secret plans"})  # fmt: skip
    AccessLog.objects.filter(user=alice).update(client_ip="192.0.2.1", user_agent="Alice's phone")
    audit.record(user=bob, action=AccessLog.Action.PLAY, document=notes, audio_id=hers.pk)
    audit.record(user=charlie, action=AccessLog.Action.UNSHARE, document=charlies,
                 details={"shared_with": alice.pk})  # fmt: skip
    bobs_own = document_services.create_document_from_text(owner=bob, title="Bob's", text="Hi")

    browser = Client()
    browser.force_login(alice)
    documents = {pasted.pk, notes.pk}
    return AliceWorld(
        alice_id=alice.pk,
        document_ids=documents,
        page_ids=set(Page.objects.filter(document__in=documents).values_list("pk", flat=True)),
        audio_ids={hers.pk, bobs_on_hers.pk},
        her_files={
            pasted.file_key,
            notes_cover,
            hers.file_key,
            bobs_on_hers.file_key,
            export.file_key,
        },
        others_files={charlie_original, made_for_charlie.file_key, bobs_own.file_key},
        charlies_document=charlies,
        audio_she_made_for_charlie=made_for_charlie,
        api=client_for(alice),
        browser=browser,
        extra={"admin_entry_about_her": about_her},
    )


def delete_alice(world: AliceWorld, capture: Capture, password: str = DEFAULT_PASSWORD) -> Any:
    with capture(execute=True):
        return world.api.delete(ME, {"password": password}, format="json")


def references_to(model_class: type[models.Model], ids: set[int]) -> list[str]:
    """Every row of every model that still points at one of `ids` of `model_class`."""
    found = []
    for model in apps.get_models(include_auto_created=True):
        for column in model._meta.get_fields():
            if not (column.is_relation and (column.many_to_one or column.one_to_one)):
                continue
            if column.related_model is not model_class or not column.concrete:
                continue
            count = model._base_manager.filter(**{f"{column.name}__in": ids}).count()
            if count:
                found.append(f"{model._meta.label}.{column.name}: {count}")
    return found


def rows_mentioning(text: str) -> list[str]:
    """Every row of every model with `text` in a text or JSON column."""
    found = []
    for model in apps.get_models(include_auto_created=True):
        for column in model._meta.concrete_fields:
            if isinstance(column, models.CharField | models.TextField | models.EmailField):
                hits = model._base_manager.filter(**{f"{column.name}__icontains": text})
            elif isinstance(column, models.JSONField):
                hits = model._base_manager.annotate(
                    as_text=Cast(column.name, models.TextField())
                ).filter(as_text__icontains=text)
            else:
                continue
            if hits.exists():
                found.append(f"{model._meta.label}.{column.name}")
    return found


def sessions_of(user_id: int) -> list[str]:
    return [
        session.session_key
        for session in Session.objects.all()
        if session.get_decoded().get(SESSION_KEY) == str(user_id)
    ]


def assert_nothing_of_alice_is_left(world: AliceWorld) -> None:
    assert not User.objects.filter(pk=world.alice_id).exists()
    assert references_to(User, {world.alice_id}) == []
    assert references_to(Document, world.document_ids) == []
    assert references_to(Page, world.page_ids) == []
    assert references_to(Audio, world.audio_ids) == []
    for trace in ("alice@example.com", "Alice's diary", "Alice's notes", "Alice's secret",
                  "Alice's phone", "192.0.2.1"):  # fmt: skip
        assert rows_mentioning(trace) == [], trace
    assert sessions_of(world.alice_id) == []
    # Storage, listed on disk: her originals, audio and export are gone, nobody else's file is.
    assert stored_files() == world.others_files


# --- Deleting -----------------------------------------------------------------------------------


def test_after_deletion_nothing_of_the_person_remains_in_the_database_or_storage(
    alice: User, bob: User, charlie: User, django_capture_on_commit_callbacks: Capture
) -> None:
    world = build_alice(alice, bob, charlie)
    assert world.her_files <= stored_files()
    assert sessions_of(world.alice_id)

    response = delete_alice(world, django_capture_on_commit_callbacks)

    assert response.status_code == 204
    assert_nothing_of_alice_is_left(world)
    # What belongs to others stays: charlie's document and the audio she made of it.
    assert Document.objects.filter(pk=world.charlies_document.pk).exists()
    made = Audio.objects.get(pk=world.audio_she_made_for_charlie.pk)
    assert made.created_by_id is None
    assert DocumentShare.objects.filter(document=world.charlies_document).count() == 0
    assert UsageRecord.objects.filter(user__isnull=True, characters=10).count() == 1
    # Charlie's admin change to her account stays in the history, without her address.
    entry = LogEntry.objects.get(pk=world.extra["admin_entry_about_her"].pk)
    anonymous_id = AccessLog.objects.filter(details__has_key="anonymous_id")[0].details
    assert entry.object_repr == f"deleted account {anonymous_id['anonymous_id']}"


def test_the_account_stops_working_at_once(
    alice: User, bob: User, charlie: User, django_capture_on_commit_callbacks: Capture
) -> None:
    world = build_alice(alice, bob, charlie)

    delete_alice(world, django_capture_on_commit_callbacks)

    assert world.api.get(ME).status_code == 401
    assert world.browser.get(ME).status_code == 401
    assert world.browser.get("/library/").status_code == 302  # to the log-in page
    token = APIClient().post(
        "/api/v1/auth/token/", {"email": "alice@example.com", "password": DEFAULT_PASSWORD}
    )
    assert token.status_code == 400
    # The address is free again.
    again = APIClient().post(
        "/api/v1/auth/register/", {"email": "alice@example.com", "password": DEFAULT_PASSWORD}
    )
    assert again.status_code == 201


def test_audit_entries_stay_with_an_anonymous_id_instead_of_the_person(
    alice: User, bob: User, charlie: User, django_capture_on_commit_callbacks: Capture
) -> None:
    world = build_alice(alice, bob, charlie)
    before = AccessLog.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        world.api.delete(ME, {"password": DEFAULT_PASSWORD}, format="json")

    assert AccessLog.objects.count() == before
    anonymous = AccessLog.objects.filter(details__has_key="anonymous_id").order_by("pk")
    assert [(row.action, row.user_id, row.client_ip, row.user_agent) for row in anonymous] == [
        ("add", None, None, ""),
        ("share", None, None, ""),
        ("delete", None, None, ""),
    ]
    anonymous_id = anonymous[0].details["anonymous_id"]
    assert len(anonymous_id) == 32
    assert all(row.details["anonymous_id"] == anonymous_id for row in anonymous)
    assert anonymous[1].details == {"permission": "collaborator", "anonymous_id": anonymous_id}
    assert anonymous[2].details == {"document_id": 999, "anonymous_id": anonymous_id}
    unshared = AccessLog.objects.get(action="unshare")
    assert unshared.user_id == charlie.pk
    assert unshared.details == {"shared_with": None, "shared_with_anonymous_id": anonymous_id}
    bobs_play = AccessLog.objects.get(action="play")
    assert bobs_play.user_id == bob.pk
    assert bobs_play.document_id is None


def test_people_who_had_the_documents_are_told_by_email(
    alice: User, bob: User, charlie: User, django_capture_on_commit_callbacks: Capture
) -> None:
    world = build_alice(alice, bob, charlie)
    second = document_with_pages(owner=alice, pages=1, title="Alice's\nrecipes")
    DocumentShare.objects.create(document=second, shared_with=bob, permission="view_only")
    world.document_ids.add(second.pk)
    world.page_ids |= set(second.pages.values_list("pk", flat=True))
    # Dave has charlie's document through alice (she may share it): that share goes too.
    dave = UserFactory.create(email="dave@example.com")
    DocumentShare.objects.filter(document=world.charlies_document, shared_with=alice).update(
        permission="can_share"
    )
    DocumentShare.objects.create(
        document=world.charlies_document, shared_with=dave, permission="view_only",
        shared_by=alice,
    )  # fmt: skip
    kept = DocumentShare.objects.create(
        document=world.charlies_document, shared_with=bob, permission="view_only",
        shared_by=charlie,
    )  # fmt: skip

    delete_alice(world, django_capture_on_commit_callbacks)

    # Charlie shared with her, not the other way round: only bob and dave hear of it.
    by_recipient = {message.to[0]: message for message in mail.outbox}
    assert set(by_recipient) == {"bob@example.com", "dave@example.com"}
    to_bob, to_dave = by_recipient["bob@example.com"], by_recipient["dave@example.com"]
    assert to_bob.subject == "Documents shared with you on Pagecast are no longer available"
    assert "alice@example.com closed their Pagecast account." in to_bob.body
    assert "- Alice's notes\n" in to_bob.body
    assert "- Alice's\nrecipes" in to_bob.body
    assert "Charlie's plans" not in to_bob.body
    assert to_dave.subject == "A document shared with you on Pagecast is no longer available"
    assert "- Charlie's plans\n" in to_dave.body
    assert "ask their owner to share them with you again" in to_dave.body
    assert "Alice's notes" not in to_dave.body
    assert list(DocumentShare.objects.values_list("pk", flat=True)) == [kept.pk]
    assert_nothing_of_alice_is_left(world)


def test_a_wrong_password_is_400_and_nothing_is_deleted(
    alice: User, bob: User, charlie: User, django_capture_on_commit_callbacks: Capture
) -> None:
    world = build_alice(alice, bob, charlie)
    files_before = stored_files()
    shares_before = DocumentShare.objects.count()

    response = delete_alice(world, django_capture_on_commit_callbacks, password="not it at all")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["fields"] == {"password": ["The password is not correct."]}
    alice.refresh_from_db()
    assert alice.is_active
    assert alice.email == "alice@example.com"
    assert alice.check_password(DEFAULT_PASSWORD)
    assert not AccountDeletion.objects.exists()
    assert Document.objects.filter(pk__in=world.document_ids).count() == 2
    assert DocumentShare.objects.count() == shares_before
    assert stored_files() == files_before
    assert world.api.get(ME).status_code == 200
    assert world.browser.get(ME).status_code == 200
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Enter your password to delete your account."),
        ({"password": ""}, "Enter your password to delete your account."),
        ({"password": ["correct horse battery staple"]}, None),
        ({"password": "x" * 300}, None),
    ],
)
def test_a_missing_or_malformed_password_is_400_and_nothing_is_deleted(
    alice: User, django_capture_on_commit_callbacks: Capture, body: Any, message: str | None
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(alice).delete(ME, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "password" in response.json()["error"]["fields"]
    if message:
        assert response.json()["error"]["fields"]["password"] == [message]
    alice.refresh_from_db()
    assert alice.is_active
    assert not AccountDeletion.objects.exists()


def test_guessing_the_password_is_rate_limited(alice: User) -> None:
    client = client_for(alice)
    answers = [
        client.delete(ME, {"password": f"guess {n}"}, format="json").status_code for n in range(11)
    ]
    assert answers[:10] == [400] * 10
    assert answers[10] == 429
    alice.refresh_from_db()
    assert alice.is_active


def test_anonymous_callers_cannot_delete_anything(alice: User) -> None:
    response = APIClient().delete(ME, {"password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 401
    assert User.objects.filter(pk=alice.pk, is_active=True).exists()


# --- Crash-safety -------------------------------------------------------------------------------


@pytest.fixture
def refusing_storage(monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], None]:
    """Storage refuses to delete audio files while switched on (a store that is down)."""
    real_delete = FileSystemStorage.delete
    refusing = [False]

    def delete(storage: FileSystemStorage, name: str) -> None:
        if refusing[0] and name.startswith("audio/"):
            raise ConnectionResetError("storage went away")
        real_delete(storage, name)

    monkeypatch.setattr(FileSystemStorage, "delete", delete)

    def switch(on: bool) -> None:
        refusing[0] = on

    return switch


@pytest.fixture
def retries_run() -> Iterator[None]:
    """Eager tasks run their retries in process, as a worker would, only when their errors do
    not propagate to the caller."""
    from core.celery import app

    propagates = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = propagates


def test_a_purge_storage_interrupts_is_finished_by_the_sweep(
    alice: User, bob: User, charlie: User, django_capture_on_commit_callbacks: Capture,
    refusing_storage: Callable[[bool], None], retries_run: None,
) -> None:  # fmt: skip
    world = build_alice(alice, bob, charlie)
    refusing_storage(True)

    response = delete_alice(world, django_capture_on_commit_callbacks)

    assert response.status_code == 204
    # Half-way: the account is unusable, and what storage kept still has its rows.
    account = User.objects.get(pk=world.alice_id)
    assert not account.is_active
    assert not account.has_usable_password()
    assert account.email.endswith("@deleted.invalid")
    deletion_row = AccountDeletion.objects.get(user=account)
    assert deletion_row.claimed_at is None
    assert deletion_row.attempts > 1
    assert Audio.objects.filter(pk__in=world.audio_ids).exists()
    assert world.api.get(ME).status_code == 401
    assert not Token.objects.filter(user=account).exists()
    assert not EmailAddress.objects.filter(user=account).exists()
    assert not SocialAccount.objects.filter(user=account).exists()
    assert not DocumentShare.objects.filter(document__owner=account).exists()
    assert len(mail.outbox) == 1  # told once, when the deletion was asked for

    refusing_storage(False)
    with django_capture_on_commit_callbacks(execute=True):
        result = deletion.sweep_account_deletions(now=timezone.now() + timedelta(minutes=2))

    assert result == {"requeued": 1}
    assert_nothing_of_alice_is_left(world)
    assert len(mail.outbox) == 1


def test_a_purge_that_died_mid_way_is_taken_over_and_finishes(
    settings: Any, alice: User, bob: User, charlie: User,
    django_capture_on_commit_callbacks: Capture, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    world = build_alice(alice, bob, charlie)
    real_anonymise = deletion._anonymise_audit

    def crash(*args: Any) -> None:
        raise RuntimeError("worker killed")

    monkeypatch.setattr(deletion, "_anonymise_audit", crash)
    with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
        world.api.delete(ME, {"password": DEFAULT_PASSWORD}, format="json")
    # The documents went before the crash; the account and its audit entries are still there.
    assert not Document.objects.filter(pk__in=world.document_ids).exists()
    assert AccountDeletion.objects.filter(user_id=world.alice_id).exists()
    monkeypatch.setattr(deletion, "_anonymise_audit", real_anonymise)

    # A worker that dies holds its claim: nobody else starts while it may still be running...
    now = timezone.now()
    AccountDeletion.objects.update(claimed_at=now)
    assert deletion.purge_account(user_id=world.alice_id, now=now) is False
    assert deletion.sweep_account_deletions(now=now)["requeued"] == 0
    assert User.objects.filter(pk=world.alice_id).exists()
    # ...until the claim is older than the hard time limit.
    died_at = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 120)
    AccountDeletion.objects.update(claimed_at=died_at)
    with django_capture_on_commit_callbacks(execute=True):
        assert deletion.sweep_account_deletions() == {"requeued": 1}
    assert_nothing_of_alice_is_left(world)
    # Running it again finds nothing to do.
    assert deletion.purge_account(user_id=world.alice_id) is True


def purge_delivered(user_id: int, *, redelivered: bool) -> bool:
    """The purge task, run as a worker runs a message with this delivery flag."""
    task: Any = purge_account_task  # (the stubs do not know the request's fields)
    task.push_request(
        id="a-purge", args=[user_id], kwargs={}, retries=0, is_eager=False,
        called_directly=False, delivery_info={"routing_key": "default", "redelivered": redelivered},
    )  # fmt: skip
    try:
        return bool(task.run(user_id))
    finally:
        task.pop_request()


def test_a_redelivered_purge_takes_over_the_claim_of_its_dead_worker_at_once(
    alice: User, bob: User, charlie: User, django_capture_on_commit_callbacks: Capture
) -> None:
    world = build_alice(alice, bob, charlie)
    with django_capture_on_commit_callbacks(execute=False):
        deletion.start_account_deletion(user=alice)
    # A worker claimed the purge a moment ago and was killed (SIGKILL, out of memory).
    AccountDeletion.objects.update(claimed_at=timezone.now(), attempts=1)

    # The same message again, not redelivered, is a duplicate: the claim may still be worked on.
    assert purge_delivered(world.alice_id, redelivered=False) is False
    assert User.objects.filter(pk=world.alice_id).exists()
    # Given back by the broker because its worker died: taken over now, not after the time limit.
    assert purge_delivered(world.alice_id, redelivered=True) is True
    assert_nothing_of_alice_is_left(world)
    # Delivered once more, it finds nothing to do.
    assert purge_delivered(world.alice_id, redelivered=True) is True


def test_an_export_finishing_after_the_account_went_leaves_no_file(
    alice: User, django_capture_on_commit_callbacks: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = Export.objects.create(user=alice)
    real_write = export_services.write_archive

    def account_deleted_meanwhile(**kwargs: Any) -> Any:
        written = real_write(**kwargs)
        with django_capture_on_commit_callbacks(execute=True):
            client_for(alice).delete(ME, {"password": DEFAULT_PASSWORD}, format="json")
        return written

    monkeypatch.setattr(export_services, "write_archive", account_deleted_meanwhile)

    export_services.build_export(export_id=export.pk)

    assert not User.objects.filter(pk=alice.pk).exists()
    assert stored_files() == set()


def test_the_sweep_is_scheduled_on_the_default_queue(settings: Any) -> None:
    from core.celery import app

    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "users.sweep_account_deletions" in tasks
    for name in ("users.purge_account", "users.sweep_account_deletions"):
        assert app.amqp.router.route({}, name)["queue"].name == "default"


# --- Accounts without a password (social sign-in) -----------------------------------------------


def social_only(email: str = "social@example.com") -> User:
    person = UserFactory.create(email=email)
    person.set_unusable_password()
    person.save()
    SocialAccount.objects.create(user=person, provider="github", uid="777")
    return person


def signed_in_with_github(client: Client, person: User, *, seconds_ago: float) -> None:
    """What allauth keeps in the session after a sign-in through GitHub."""
    client.force_login(person)
    session = client.session
    session["account_authentication_methods_user"] = str(person.pk)
    session["account_authentication_methods"] = [
        {"method": "socialaccount", "at": time.time() - seconds_ago, "provider": "github",
         "uid": "777"},
    ]  # fmt: skip
    session.save()


def test_an_account_without_a_password_needs_a_fresh_social_sign_in(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    person = social_only()
    stale, fresh = Client(), Client()
    signed_in_with_github(stale, person, seconds_ago=600)
    signed_in_with_github(fresh, person, seconds_ago=10)

    refused = stale.delete(ME, {}, content_type="application/json")
    assert refused.status_code == 400
    assert "sign in again" in refused.json()["error"]["fields"]["password"][0]
    assert User.objects.get(pk=person.pk).is_active
    assert (
        client_for(person).delete(ME, {}, format="json").status_code == 400
    )  # a token is no sign-in

    with django_capture_on_commit_callbacks(execute=True):
        accepted = fresh.delete(ME, {}, content_type="application/json")
    assert accepted.status_code == 204
    assert not User.objects.filter(pk=person.pk).exists()


def test_the_settings_page_asks_a_social_account_to_sign_in_again_then_deletes_it(
    github: FakeGitHub,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    github.profile = {"id": 777, "login": "soc", "email": "social@example.com"}
    github.emails = [{"email": "social@example.com", "primary": True, "verified": True}]
    browser = Client()
    sign_in_with_github(browser)
    person = User.objects.get(email="social@example.com")
    assert not person.has_usable_password()

    # Just signed in: the form is there, without a password field.
    html = browser.get("/settings/").content.decode()
    assert 'action="/settings/delete-account/"' in html
    assert 'type="password"' not in html

    # Ten minutes later it is not: the page offers to sign in again.
    session = browser.session
    records = session["account_authentication_methods"]
    session["account_authentication_methods"] = [{**r, "at": r["at"] - 600} for r in records]
    session.save()
    html = browser.get("/settings/").content.decode()
    assert 'action="/settings/delete-account/"' not in html
    assert "/accounts/github/login/?process=login&amp;action=reauthenticate" in html
    refused = browser.post("/settings/delete-account/", {"confirm": "on"})
    assert refused.status_code == 302
    assert User.objects.get(pk=person.pk).is_active

    sign_in_with_github(browser)  # the link's flow: GitHub again
    with django_capture_on_commit_callbacks(execute=True):
        done = browser.post("/settings/delete-account/", {"confirm": "on"})
    assert done.status_code == 302
    assert done["Location"] == "/"
    assert not User.objects.filter(pk=person.pk).exists()


# --- The settings page --------------------------------------------------------------------------


def test_the_settings_page_deletes_with_the_password_and_a_ticked_box(
    alice: User, bob: User, charlie: User, django_capture_on_commit_callbacks: Capture
) -> None:
    world = build_alice(alice, bob, charlie)
    html = world.browser.get("/settings/").content.decode()
    assert 'action="/settings/delete-account/"' in html
    assert 'type="password"' in html

    wrong = world.browser.post(
        "/settings/delete-account/", {"password": "nope", "confirm": "on"}, follow=True
    )
    assert "The password is not correct." in wrong.content.decode()
    unticked = world.browser.post(
        "/settings/delete-account/", {"password": DEFAULT_PASSWORD}, follow=True
    )
    assert "Tick the box" in unticked.content.decode()
    assert User.objects.get(pk=alice.pk).is_active
    assert Document.objects.filter(pk__in=world.document_ids).count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        done = world.browser.post(
            "/settings/delete-account/", {"password": DEFAULT_PASSWORD, "confirm": "on"}
        )

    assert done.status_code == 302
    assert done["Location"] == "/"
    assert_nothing_of_alice_is_left(world)
    assert world.browser.get("/settings/").status_code == 302  # logged out


def test_anonymous_posts_to_the_account_forms_change_nothing(alice: User) -> None:
    for path in ("/settings/delete-account/", "/settings/export/"):
        response = Client().post(path, {"password": DEFAULT_PASSWORD, "confirm": "on"})
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]
    assert User.objects.get(pk=alice.pk).is_active
    assert not Export.objects.exists()
