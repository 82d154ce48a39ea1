"""S3 mode end to end, against moto's S3 server on 127.0.0.1 started by these tests.

The storage settings are the ones core/settings/base.py builds for STORAGE_BACKEND=s3 (read in a
fresh interpreter), pointed at a new bucket for each test. Every claim about the bucket is checked
by listing it with a separate boto3 client, never through the code under test.
"""

from __future__ import annotations

import calendar
import io
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from core.tests.s3_server import (
    ADMIN_KEY,
    ADMIN_SECRET,
    REGION,
    S3Server,
    iam_enforced,
    production_storage_settings,
    refused_endpoint,
    sigv4_query_signature,
)
from document_processing.models import Document, Page
from document_processing.tasks import MAX_RETRIES as EXTRACTION_RETRIES
from document_processing.tasks import extract_document_task
from document_processing.tests.factories import document_with_pages
from speech_processing import live, services
from speech_processing.models import Audio
from speech_processing.tasks import generate_audio_task
from speech_processing.tests.conftest import run_task
from speech_processing.tests.factories import AudioFactory
from users.models import User

pytestmark = pytest.mark.django_db

Capture = Callable[..., AbstractContextManager[Any]]
DOCUMENTS = "/api/v1/documents/"
SIGNED_URL_SECONDS = 120  # not the default (300): proves the setting reaches the signed URL
TEXT = (
    b"# The lighthouse\n\nThe keeper climbed the stairs at dusk. "
    b"He lit the lamp and watched the ships pass.\n"
)
ALLOW_ALL = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}


@pytest.fixture(scope="module")
def built(s3: S3Server) -> dict[str, Any]:
    """As the plugin's, with a signed URL lifetime of this module's own."""
    return production_storage_settings(
        endpoint=s3.endpoint,
        bucket="set-per-test",
        extra_env={"AWS_QUERYSTRING_EXPIRE": str(SIGNED_URL_SECONDS)},
    )


@pytest.fixture
def use_s3(settings: Any, built: dict[str, Any]) -> Callable[..., None]:
    """Point the default storage at a bucket (and optionally another endpoint or key pair).

    Changing STORAGES through the `settings` fixture makes Django drop its storage handler and
    the lazy `default_storage`, so the next file operation builds an S3Storage from these.
    """

    def switch(
        *, bucket: str, endpoint: str | None = None, key: str = "", secret: str = ""
    ) -> None:
        options = {**built["default"]["OPTIONS"], "bucket_name": bucket}
        if endpoint is not None:
            options["endpoint_url"] = endpoint
        if key:
            options.update(access_key=key, secret_key=secret)
        settings.STORAGE_BACKEND = built["STORAGE_BACKEND"]
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {**built["default"], "OPTIONS": options},
        }

    return switch


@pytest.fixture
def bucket(s3: S3Server, use_s3: Callable[..., None]) -> str:
    name = s3.new_bucket()
    use_s3(bucket=name)
    return name


def upload(client: APIClient, capture: Capture, *, execute: bool = True) -> Any:
    """POST a Markdown file; with `execute`, its extraction runs as the request commits."""
    stream = io.BytesIO(TEXT)
    stream.name = "lighthouse.md"
    with capture(execute=execute):
        return client.post(DOCUMENTS, {"file": stream}, format="multipart")


def generate(client: APIClient, capture: Capture, page_id: int, voice: str = "fake:alpha") -> Any:
    with capture(execute=True):
        return client.post(f"/api/v1/pages/{page_id}/audios/", {"voice": voice}, format="json")


def uploaded_document(client: APIClient, capture: Capture) -> Document:
    response = upload(client, capture)
    assert response.status_code == 202, response.content
    return Document.objects.get(pk=response.json()["id"])


def completed_audio(client: APIClient, capture: Capture, page: Page, voice: str) -> Audio:
    response = generate(client, capture, page.pk, voice)
    assert response.status_code == 202, response.content
    audio = Audio.objects.get(pk=response.json()["id"])
    assert audio.status == Audio.Status.COMPLETED, audio.error_message
    return audio


def assert_clean_503(response: Any) -> None:
    """A storage outage is the service's trouble: 503 in the envelope, nothing internal shown."""
    assert response.status_code == 503, response.content
    error = response.json()["error"]
    assert error["code"] == "service_unavailable"
    assert error["message"] == "The file could not be stored. Please try again later."
    text = response.content.decode()
    for leak in ("Traceback", "botocore", "NoSuchBucket", "AccessDenied", "127.0.0.1", "Endpoint"):
        assert leak not in text


# --- The happy path -------------------------------------------------------------------------


def test_the_settings_for_s3_are_the_production_ones(built: dict[str, Any], s3: S3Server) -> None:
    options = built["default"]["OPTIONS"]
    assert built["STORAGE_BACKEND"] == "s3"
    assert built["default"]["BACKEND"] == "core.storage.S3Storage"
    assert options["signature_version"] == "s3v4"
    assert options["endpoint_url"] == s3.endpoint
    assert options["querystring_auth"] is True
    assert options["querystring_expire"] == SIGNED_URL_SECONDS
    assert options["file_overwrite"] is False
    # Without AWS_QUERYSTRING_EXPIRE, a signed link lives five minutes.
    default = production_storage_settings(endpoint=s3.endpoint, bucket="any")
    assert default["default"]["OPTIONS"]["querystring_expire"] == 300


def test_a_store_that_never_answers_fails_within_the_configured_bounds(
    built: dict[str, Any],
) -> None:
    """A silent endpoint (accepts, never answers) fails the call after the read timeout and
    the configured attempts, instead of botocore's minutes of waiting."""
    import socket

    from django.core.files.base import ContentFile

    from core.storage import S3Storage

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        storage = S3Storage(
            **{
                **built["default"]["OPTIONS"],
                "bucket_name": "silent",
                "endpoint_url": f"http://127.0.0.1:{silent.getsockname()[1]}",
                "read_timeout": 1,
                "max_attempts": 2,
            }
        )
        config = storage.client_config
        assert (config.read_timeout, config.retries["max_attempts"]) == (1, 2)
        assert config.signature_version == "s3v4"
        with pytest.raises(Exception, match=r"(?i)timeout|timed out"):
            storage.save("audio/x.mp3", ContentFile(b"x"))
    finally:
        silent.close()


def test_an_upload_stores_its_original_in_the_bucket_and_is_extracted_from_it(
    alice_client: APIClient, django_capture_on_commit_callbacks: Capture, s3: S3Server, bucket: str
) -> None:
    response = upload(alice_client, django_capture_on_commit_callbacks)

    assert response.status_code == 202, response.content
    document = Document.objects.get(pk=response.json()["id"])
    assert document.status == Document.Status.COMPLETED, document.error_message
    assert s3.keys(bucket) == {document.file_key}
    assert document.file_key.startswith("originals/")
    assert s3.read(bucket, document.file_key) == TEXT
    page = document.pages.get()
    assert "The keeper climbed the stairs at dusk." in page.text


def test_synthesis_stores_the_mp3_in_the_bucket(
    alice_client: APIClient, django_capture_on_commit_callbacks: Capture, s3: S3Server, bucket: str
) -> None:
    document = uploaded_document(alice_client, django_capture_on_commit_callbacks)

    audio = completed_audio(
        alice_client, django_capture_on_commit_callbacks, document.pages.get(), "fake:alpha"
    )

    assert s3.keys(bucket) == {document.file_key, audio.file_key}
    assert audio.file_key.startswith("audio/")
    assert audio.file_key.endswith(".mp3")
    stored = s3.read(bucket, audio.file_key)
    assert audio.size_bytes
    assert len(stored) == audio.size_bytes
    assert stored[:3] == b"ID3" or stored[0] == 0xFF  # an MP3: ID3 tag or frame sync
    head = s3.client().head_object(Bucket=bucket, Key=audio.file_key)
    assert head["ContentType"] == "audio/mpeg"


def test_download_redirects_to_a_sigv4_signed_url_that_serves_the_same_bytes(
    alice_client: APIClient, django_capture_on_commit_callbacks: Capture, s3: S3Server, bucket: str
) -> None:
    document = uploaded_document(alice_client, django_capture_on_commit_callbacks)
    audio = completed_audio(
        alice_client, django_capture_on_commit_callbacks, document.pages.get(), "fake:alpha"
    )

    response = alice_client.get(f"/api/v1/audios/{audio.pk}/download/")

    assert response.status_code == 302
    location = response["Location"]
    parts = urlsplit(location)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}" == s3.endpoint
    assert parts.path == f"/{bucket}/{audio.file_key}"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Expires"] == str(SIGNED_URL_SECONDS)
    assert query["X-Amz-SignedHeaders"] == "host"
    key_id, date, region, service, terminator = query["X-Amz-Credential"].split("/")
    assert (key_id, region, service, terminator) == (
        ADMIN_KEY,
        REGION,
        "s3",
        "aws4_request",
    )
    signed_at = calendar.timegm(time.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ"))
    assert abs(signed_at - time.time()) < 600  # signed now, so it expires SIGNED_URL_SECONDS on
    assert date == query["X-Amz-Date"][:8]
    assert "AWSAccessKeyId" not in query  # no SigV2 parameters

    # The signature is SigV4 over the expiry too: a link cannot be stretched by editing it.
    assert query["X-Amz-Signature"] == sigv4_query_signature(location, secret=ADMIN_SECRET)
    stretched = location.replace(f"X-Amz-Expires={SIGNED_URL_SECONDS}", "X-Amz-Expires=604800")
    assert query["X-Amz-Signature"] != sigv4_query_signature(stretched, secret=ADMIN_SECRET)
    assert query["X-Amz-Signature"] != sigv4_query_signature(location, secret="another-secret")

    # moto serves presigned GETs without checking their signature or expiry, so what is proven
    # here is that the link names the right object; expiry is proven by the signed parameters.
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with direct.open(location, timeout=10) as answer:
        assert answer.status == 200
        assert answer.read() == s3.read(bucket, audio.file_key)


def test_a_stranger_gets_no_signed_url(
    alice_client: APIClient,
    charlie_client: APIClient,
    django_capture_on_commit_callbacks: Capture,
    bucket: str,
) -> None:
    document = uploaded_document(alice_client, django_capture_on_commit_callbacks)
    audio = completed_audio(
        alice_client, django_capture_on_commit_callbacks, document.pages.get(), "fake:alpha"
    )

    response = charlie_client.get(f"/api/v1/audios/{audio.pk}/download/")

    assert response.status_code == 404
    assert "Location" not in response
    assert bucket not in response.content.decode()


def test_deleting_audio_then_the_document_empties_the_bucket(
    alice_client: APIClient, django_capture_on_commit_callbacks: Capture, s3: S3Server, bucket: str
) -> None:
    document = uploaded_document(alice_client, django_capture_on_commit_callbacks)
    page = document.pages.get()
    alpha = completed_audio(alice_client, django_capture_on_commit_callbacks, page, "fake:alpha")
    beta = completed_audio(alice_client, django_capture_on_commit_callbacks, page, "fake:beta")
    assert s3.keys(bucket) == {document.file_key, alpha.file_key, beta.file_key}

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.delete(f"/api/v1/audios/{alpha.pk}/")
    assert response.status_code == 204
    assert s3.keys(bucket) == {document.file_key, beta.file_key}
    assert alice_client.get(f"/api/v1/audios/{alpha.pk}/download/").status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.delete(f"{DOCUMENTS}{document.pk}/")
    assert response.status_code == 204
    assert s3.keys(bucket) == set()
    assert not Document.objects.filter(pk=document.pk).exists()


def test_stream_parts_a_dead_worker_left_in_the_bucket_are_swept(
    alice: User, s3: S3Server, bucket: str
) -> None:
    page = document_with_pages(owner=alice, pages=1).pages.get()
    under_way = AudioFactory.create(page=page, status=Audio.Status.GENERATING, attempts=2)
    for attempt in (1, 2):  # attempt 1's worker was killed; attempt 2 is being made now
        for number in range(2):
            key = live.part_key(under_way.pk, attempt, number)
            default_storage.save(key, ContentFile(b"\xff\xfb"))
    assert live.sweep_stream_parts() == 1
    assert s3.keys(bucket) == {
        live.part_key(under_way.pk, 2, 0),
        live.part_key(under_way.pk, 2, 1),
    }


# --- Storage errors -------------------------------------------------------------------------

WRITE_DENIED = [ALLOW_ALL, {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"}]
ALL_DENIED = [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]
Breaker = Callable[[str], AbstractContextManager[None]]


@pytest.fixture
def broken_store(s3: S3Server, use_s3: Callable[..., None], bucket: str) -> Breaker:
    """`with broken_store(kind):` runs its body against a store failing in that way; the test's
    bucket is used again afterwards."""

    @contextmanager
    def broken(kind: str) -> Iterator[None]:
        try:
            if kind == "no_such_bucket":
                use_s3(bucket=f"{bucket}-missing")
                yield
            elif kind in ("write_denied", "all_denied"):
                statements = WRITE_DENIED if kind == "write_denied" else ALL_DENIED
                key, secret = s3.user_with_policy(statements)
                use_s3(bucket=bucket, key=key, secret=secret)
                with iam_enforced():
                    yield
            else:
                assert kind == "connection_refused"
                with refused_endpoint() as endpoint:
                    use_s3(bucket=bucket, endpoint=endpoint)
                    yield
        finally:
            use_s3(bucket=bucket)

    return broken


def queued_audio(client: APIClient, capture: Capture, page: Page) -> Audio:
    """An audio record made through the API; its task is left for the test to run."""
    with capture(execute=False):
        response = client.post(
            f"/api/v1/pages/{page.pk}/audios/", {"voice": "fake:alpha"}, format="json"
        )
    assert response.status_code == 202, response.content
    return Audio.objects.get(pk=response.json()["id"])


@pytest.fixture
def tasks_run_as_a_worker_would() -> Iterator[None]:
    """Eager tasks that retry do so in process instead of raising into the caller (a worker
    queues the retry; the request that queued the task never sees it)."""
    conf = generate_audio_task.app.conf
    propagates = conf.task_eager_propagates
    conf.task_eager_propagates = False
    yield
    conf.task_eager_propagates = propagates


@pytest.mark.usefixtures("tasks_run_as_a_worker_would")
@pytest.mark.parametrize(
    "kind", ["no_such_bucket", "write_denied", "all_denied", "connection_refused"]
)
def test_a_storage_error_during_upload_is_a_clean_503_and_leaves_nothing(
    kind: str,
    alice_client: APIClient,
    django_capture_on_commit_callbacks: Capture,
    s3: S3Server,
    bucket: str,
    broken_store: Breaker,
) -> None:
    with broken_store(kind):
        response = upload(alice_client, django_capture_on_commit_callbacks)

    assert_clean_503(response)
    assert not Document.objects.exists()
    assert s3.keys(bucket) == set()
    # The same upload succeeds once the store is back: the failure left nothing in the way.
    assert upload(alice_client, django_capture_on_commit_callbacks).status_code == 202
    assert s3.keys(bucket) == {Document.objects.get().file_key}


@pytest.mark.parametrize("kind", ["no_such_bucket", "write_denied", "all_denied"])
def test_a_permanent_storage_error_fails_the_audio_at_once_with_nothing_stored(
    kind: str,
    alice_client: APIClient,
    django_capture_on_commit_callbacks: Capture,
    s3: S3Server,
    bucket: str,
    broken_store: Breaker,
    settings: Any,
) -> None:
    settings.SPEECH_RETRY_BASE_SECONDS = 0
    settings.SPEECH_MAX_RETRIES = 2
    document = uploaded_document(alice_client, django_capture_on_commit_callbacks)
    audio = queued_audio(alice_client, django_capture_on_commit_callbacks, document.pages.get())

    with broken_store(kind):
        run_task(generate_audio_task, audio.pk)

    audio.refresh_from_db()
    assert audio.status == Audio.Status.FAILED
    assert audio.attempts == 1  # no retry: none can fix a missing bucket or a denial
    assert audio.file_key == ""
    assert audio.error_message.startswith("The audio could not be saved (error ")
    assert "Bucket" not in audio.error_message
    assert "Denied" not in audio.error_message
    assert s3.keys(bucket) == {document.file_key}
    assert alice_client.get(f"/api/v1/audios/{audio.pk}/download/").status_code == 409

    # Once the store is fixed, retrying the audio completes it.
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(f"/api/v1/audios/{audio.pk}/retry/")
    assert response.status_code == 202, response.content
    audio.refresh_from_db()
    assert audio.status == Audio.Status.COMPLETED
    assert s3.keys(bucket) == {document.file_key, audio.file_key}


def test_an_unreachable_store_during_synthesis_is_retried_then_failed_with_nothing_stored(
    alice_client: APIClient,
    django_capture_on_commit_callbacks: Capture,
    s3: S3Server,
    bucket: str,
    broken_store: Breaker,
    settings: Any,
) -> None:
    settings.SPEECH_RETRY_BASE_SECONDS = 0
    settings.SPEECH_MAX_RETRIES = 2
    document = uploaded_document(alice_client, django_capture_on_commit_callbacks)
    audio = queued_audio(alice_client, django_capture_on_commit_callbacks, document.pages.get())

    with broken_store("connection_refused"):
        run_task(generate_audio_task, audio.pk)

    audio.refresh_from_db()
    assert audio.status == Audio.Status.FAILED
    assert audio.attempts == 3  # the first try and SPEECH_MAX_RETRIES retries
    assert audio.file_key == ""
    assert audio.error_message == "The audio could not be saved. Please retry later."
    assert s3.keys(bucket) == {document.file_key}


def test_an_unreachable_store_releases_the_audio_and_the_retry_completes_it(
    alice_client: APIClient,
    django_capture_on_commit_callbacks: Capture,
    s3: S3Server,
    bucket: str,
    broken_store: Breaker,
) -> None:
    document = uploaded_document(alice_client, django_capture_on_commit_callbacks)
    audio = queued_audio(alice_client, django_capture_on_commit_callbacks, document.pages.get())

    # The worker's first attempt, while the store refuses connections.
    with broken_store("connection_refused"), pytest.raises(services.RetryLater):
        services.synthesize_audio(audio_id=audio.pk)

    audio.refresh_from_db()
    assert audio.status == Audio.Status.PENDING  # released for the retry, not completed
    assert audio.file_key == ""
    assert s3.keys(bucket) == {document.file_key}

    # The retry, once the store is back.
    run_task(generate_audio_task, audio.pk)
    audio.refresh_from_db()
    assert audio.status == Audio.Status.COMPLETED
    assert audio.attempts == 2
    assert s3.keys(bucket) == {document.file_key, audio.file_key}


def test_an_unreachable_store_during_extraction_is_retried_and_the_original_kept(
    alice_client: APIClient,
    django_capture_on_commit_callbacks: Capture,
    s3: S3Server,
    bucket: str,
    broken_store: Breaker,
) -> None:
    response = upload(alice_client, django_capture_on_commit_callbacks, execute=False)
    assert response.status_code == 202
    document = Document.objects.get(pk=response.json()["id"])

    with broken_store("connection_refused"):
        run_task(extract_document_task, document.pk)

    document.refresh_from_db()
    assert document.status == Document.Status.FAILED
    assert document.extraction_attempts == 1 + EXTRACTION_RETRIES
    assert document.error_message == "The file could not be read from storage. Please retry later."
    assert not document.pages.exists()
    assert s3.keys(bucket) == {document.file_key}  # the row still points at its original

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(f"{DOCUMENTS}{document.pk}/retry/")
    assert response.status_code == 202, response.content
    document.refresh_from_db()
    assert document.status == Document.Status.COMPLETED
    assert document.pages.count() == 1
