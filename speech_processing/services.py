"""Audio actions: create the record, synthesise it, delete, retry, mark as played."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import (
    AlreadyExists,
    Conflict,
    NotFound,
    QuotaExceeded,
    ServiceUnavailable,
    ValidationError,
)
from core.queueing import enqueue_on_commit
from core.security_utils import log_exception_safely, new_error_id
from core.storage_errors import is_transient_storage_error, storage_error_code
from document_processing.models import Document, Page
from document_processing.services import delete_stored_files
from operations.failures import record_task_failure
from operations.site_settings import site_settings
from operations.usage import record_synthesis_usage
from sharing.policy import Action, require
from speech_processing import live, reuse, voices
from speech_processing.encoding import EncoderOptions
from speech_processing.engines.base import EngineError, TransientEngineError
from speech_processing.engines.registry import parse_voice_id
from speech_processing.models import Audio, PlaybackPosition
from speech_processing.selectors import is_outdated
from speech_processing.synthesis import NoSpeakableText, SynthesisOutput, synthesize_text
from speech_processing.text import has_speakable_text, normalize_for_speech
from users.models import User

logger = logging.getLogger(__name__)

NO_SPEAKABLE_TEXT = _("This page has no text that can be spoken.")
INTERRUPTED = _("Making this audio was interrupted too many times.")
SAVE_RETRY = _("Saving the audio failed; we will retry.")
SAVE_GAVE_UP = _("The audio could not be saved. Please retry later.")
ENGINE_GAVE_UP = _("The speech service stayed unavailable. Please retry later.")


class RetryLater(Exception):
    """A transient failure: the claim is released and the task retries with backoff.

    ``gave_up`` is the sentence the row keeps when the retries run out. ``retry_after``: the
    seconds the service asked us to wait (its Retry-After), which the backoff must not undercut.
    """

    def __init__(
        self,
        user_message: str,
        *,
        gave_up: str = ENGINE_GAVE_UP,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.gave_up = gave_up
        self.retry_after = retry_after


# --- Quota ----------------------------------------------------------------------------------


def counted() -> QuerySet[Audio]:
    """What the per-page quota counts: every audio made or being made, deleted and expired
    included; failed attempts, which produced nothing, are not counted, nor audio that reused
    an identical twin's file (speech_processing.reuse), which cost nothing, nor the replacement
    of an outdated audio, whose slot the replaced one still holds."""
    return (
        Audio.objects.exclude(status=Audio.Status.FAILED)
        .exclude(reused=True)
        .filter(replaces__isnull=True)
    )


def counted_audios(*, page: Page) -> QuerySet[Audio]:
    return counted().filter(page=page)


def quota_for(*, page: Page) -> dict[str, int]:
    used = counted_audios(page=page).count()
    limit = site_settings().max_audios_per_page
    return {"used": used, "max": limit, "available": max(limit - used, 0)}


# --- Creating -------------------------------------------------------------------------------


def create_audio_record(*, page: Page, voice: str, user: User) -> Audio:
    """One audio of `voice` for `page`, or 409 if an up-to-date one exists or is being made.

    An audio of that voice made before the page was edited (outdated) is replaced: it is
    removed as by delete_audio, and the new one, whose `replaces` names it, takes no quota slot.

    The page row is locked so the quota check and the insert are one step; a conditional unique
    constraint backs it, so that two requests that race still make one record.

    When an identical audio (same spoken text, voice and settings) is already stored in a
    document the user may see, its file is shared instead: the audio is complete at once and
    costs no quota (speech_processing.reuse).
    """
    require(user, Action.GENERATE_AUDIO, page.document)
    require_generation_on()
    chosen = voices.resolve_voice(voice)
    if not has_speakable_text(normalize_for_speech(page.text)):
        raise ValidationError(NO_SPEAKABLE_TEXT, fields={"voice": [NO_SPEAKABLE_TEXT]})
    with transaction.atomic():
        locked = Page.objects.select_for_update().get(pk=page.pk)
        digest = reuse.content_hash(text=locked.text, voice=chosen)
        twin = reuse.find_twin(user=user, digest=digest)
        timings = reuse.timings_for_text(twin, text=locked.text, voice=chosen) if twin else None
        outdated = _outdated_audio(page=locked, voice=chosen.id)
        if outdated is not None:
            _remove(outdated)
        else:
            _check_slot(page=locked, voice=chosen.id, charged=timings is None)
        try:
            with transaction.atomic():
                audio = Audio.objects.create(
                    page=locked,
                    voice=chosen.id,
                    engine=chosen.engine,
                    created_by=user,
                    char_count=len(locked.text),
                    content_hash=digest,
                    replaces=outdated,
                )
        except IntegrityError as exc:
            raise AlreadyExists(_("Audio in this voice exists or is being made.")) from exc
        if twin is not None and timings is not None:
            reuse.complete_from_twin(audio=audio, twin=twin, text=locked.text, timings=timings)
        else:
            _enqueue_on_commit(audio.pk)
    return audio


def _outdated_audio(*, page: Page, voice: str) -> Audio | None:
    """The page's active audio of `voice`, when it is outdated (the page row is locked)."""
    current = Audio.objects.filter(
        page=page, voice=voice, lifetime_status=Audio.Lifetime.ACTIVE, status=Audio.Status.COMPLETED
    ).first()
    if current is None or not is_outdated(current, page_text=page.text):
        return None
    return current


def _check_slot(
    *, page: Page, voice: str, exclude: int | None = None, charged: bool = True
) -> None:
    live = Audio.objects.filter(
        page=page,
        voice=voice,
        lifetime_status=Audio.Lifetime.ACTIVE,
        status__in=Audio.LIVE_STATUSES,
    )
    if exclude is not None:
        live = live.exclude(pk=exclude)
    if live.exists():
        raise AlreadyExists(_("Audio in this voice exists or is being made."))
    limit = site_settings().max_audios_per_page
    if charged and counted_audios(page=page).count() >= limit:
        raise QuotaExceeded(
            _("This page already has %(limit)d audios, the most allowed.") % {"limit": limit}
        )


def require_generation_on() -> None:
    """Staff may switch generation off (site settings); asked only once access is checked."""
    config = site_settings()
    if not config.audio_generation_enabled:
        raise ServiceUnavailable(config.generation_disabled_message)


def _enqueue_on_commit(audio_id: int) -> None:
    enqueue_on_commit("speech_processing.tasks.generate_audio_task", audio_id)


# --- Synthesising (the task's body) ---------------------------------------------------------


def synthesize_audio(*, audio_id: int, redelivered: bool = False) -> None:
    """Claim a pending audio, speak its page, store the MP3 and complete the record.

    Safe to run twice: only the run that moves the row from pending to generating works, and a
    stored file whose row changed meanwhile is removed again.

    `redelivered`: the broker gave this message back because the worker that held it died
    (SIGKILL, out of memory, a lost host). That worker's claim is abandoned, so a row still
    generating is taken over, up to SPEECH_MAX_RETRIES + 1 attempts in all. Should the old worker
    be alive after all, only one of the two completes the row; the other's file is removed.
    """
    claimable = Q(status=Audio.Status.PENDING)
    if redelivered:
        claimable |= Q(status=Audio.Status.GENERATING, attempts__lte=settings.SPEECH_MAX_RETRIES)
    claimed = (
        Audio.objects.filter(claimable, pk=audio_id, lifetime_status=Audio.Lifetime.ACTIVE)
    ).update(
        status=Audio.Status.GENERATING,
        started_at=timezone.now(),
        attempts=F("attempts") + 1,
        updated_at=timezone.now(),
    )
    if not claimed:
        if redelivered:
            _fail_interrupted(audio_id)
        logger.info("Audio %s is not pending; nothing to do", audio_id)
        return
    audio = Audio.objects.select_related("page").get(pk=audio_id)
    output = _synthesize(audio)
    if output is None:
        return
    key = default_storage.generate_filename(f"audio/{uuid.uuid4().hex}.mp3")
    try:
        stored = default_storage.save(key, ContentFile(output.mp3))
    except Exception as exc:
        _remove_partial(key)
        if not is_transient_storage_error(exc):
            # A missing bucket or refused access: retrying cannot help until an operator acts.
            error_id = new_error_id()
            log_exception_safely(exc, error_id=error_id, context=f"storing audio {audio_id}")
            _fail_for_good(
                audio_id,
                _("The audio could not be saved (error %(id)s). Please retry later.")
                % {"id": error_id[:8]},
                error_id=error_id,
            )
            return
        logger.warning(
            "Storing audio %s failed (%s); will retry", audio_id, storage_error_code(exc)
        )
        _release(audio_id, SAVE_RETRY)
        raise RetryLater(SAVE_RETRY, gave_up=SAVE_GAVE_UP) from exc
    # What was spoken: the page may have been edited since the audio was asked for.
    digest = reuse.spoken_content_hash(spoken=output.text, voice=voices.resolve_voice(audio.voice))
    _complete(
        audio_id, stored_key=stored, output_size=len(output.mp3), output=output, content_hash=digest
    )


def _synthesize(audio: Audio) -> SynthesisOutput | None:
    """The page spoken, or None once a permanent failure is recorded on the row."""
    engine_name, voice_name = parse_voice_id(audio.voice)
    try:
        voice = voices.resolve_voice(audio.voice)
        engine = voices.get_engine(engine_name)
        # Parts are written as they are made, for listening at once (speech_processing.live).
        with live.streamed(audio) as on_part:
            return synthesize_text(
                audio.page.text,
                engine=engine,
                voice=voice_name,
                language=voice.language.split("-")[0] or "en",
                encoder_options=EncoderOptions(bitrate_kbps=settings.AUDIO_MP3_BITRATE_KBPS),
                on_part=on_part,
            )
    except TransientEngineError as exc:
        logger.warning("Speech engine busy for audio %s: %s", audio.pk, exc)
        _release(audio.pk, exc.user_message)
        raise RetryLater(exc.user_message, retry_after=exc.retry_after) from exc
    except EngineError as exc:
        logger.error("Speech engine refused audio %s: %s", audio.pk, exc)
        _fail_for_good(audio.pk, exc.user_message, error_id=exc.error_id or None)
    except SoftTimeLimitExceeded:
        _fail_for_good(audio.pk, _("Making this audio took too long."))
    except NoSpeakableText:
        _fail(audio.pk, NO_SPEAKABLE_TEXT)
    except ValidationError:
        _fail_for_good(audio.pk, _("This voice is not available."))
    except Exception as exc:
        error_id = new_error_id()
        log_exception_safely(exc, error_id=error_id, context=f"synthesising audio {audio.pk}")
        _fail_for_good(
            audio.pk,
            _("Something went wrong while making this audio (error %(id)s).")
            % {"id": error_id[:8]},
            error_id=error_id,
        )
    return None


def _remove_partial(key: str) -> None:
    """A write that failed half-way may have left a partial file under its generated key."""
    try:
        default_storage.delete(key)
    except Exception:
        logger.warning("Could not remove a partial audio file", exc_info=True)


def _complete(
    audio_id: int, *, stored_key: str, output_size: int, output: SynthesisOutput, content_hash: str
) -> None:
    now = timezone.now()
    with transaction.atomic():
        updated = Audio.objects.filter(
            pk=audio_id, status=Audio.Status.GENERATING, lifetime_status=Audio.Lifetime.ACTIVE
        ).update(
            status=Audio.Status.COMPLETED,
            file_key=stored_key,
            duration_seconds=round(output.duration_seconds, 3),
            size_bytes=output_size,
            timings=output.timings(),
            text_digest=output.source_digest,
            content_hash=content_hash,
            completed_at=now,
            expires_at=now + timedelta(days=site_settings().audio_retention_days),
            error_message="",
            updated_at=now,
        )
    if not updated:
        # Deleted or claimed elsewhere meanwhile: no row points at this file, so it goes.
        delete_stored_files(keys=[stored_key])
        return
    record_synthesis_usage(audio_id=audio_id, now=now)


def _fail(audio_id: int, message: str) -> int:
    return Audio.objects.filter(
        pk=audio_id, status__in=[Audio.Status.GENERATING, Audio.Status.PENDING]
    ).update(status=Audio.Status.FAILED, error_message=message, updated_at=timezone.now())


def _fail_for_good(audio_id: int, message: str, *, error_id: str | None = None) -> None:
    """A failure operators hear of (operations: TaskFailure and an alert); not the page's fault."""
    if _fail(audio_id, message):
        _report_failure(audio_id, message, error_id=error_id)


def _report_failure(audio_id: int, message: str, *, error_id: str | None = None) -> None:
    record_task_failure(
        task="speech_processing.generate_audio", message=message, object_type="audio",
        object_id=audio_id, error_id=error_id,
    )  # fmt: skip


def _release(audio_id: int, message: str) -> None:
    Audio.objects.filter(pk=audio_id, status=Audio.Status.GENERATING).update(
        status=Audio.Status.PENDING, error_message=message, updated_at=timezone.now()
    )


def fail_after_retries(*, audio_id: int, message: str) -> None:
    _fail_for_good(audio_id, message)


def _fail_interrupted(audio_id: int) -> None:
    """A row whose workers kept dying under it (a page that crashes the engine, say) fails."""
    if Audio.objects.filter(
        pk=audio_id, status=Audio.Status.GENERATING, attempts__gt=settings.SPEECH_MAX_RETRIES
    ).update(status=Audio.Status.FAILED, error_message=INTERRUPTED, updated_at=timezone.now()):
        _report_failure(audio_id, INTERRUPTED)


# --- Recovering lost work (a beat task) -------------------------------------------------------


def sweep_stuck_audio(*, now: datetime | None = None) -> dict[str, int]:
    """Audio whose message was lost, or whose worker died mid-synthesis, is queued again.

    Generating for longer than the hard time limit means the worker is gone: the row goes back
    to pending (a claim makes a duplicate delivery harmless), or fails once it has been tried
    SPEECH_MAX_RETRIES + 1 times.
    """
    now = now or timezone.now()
    pending_before = now - timedelta(seconds=settings.STUCK_PENDING_SECONDS)
    running_before = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    abandoned = Audio.objects.filter(status=Audio.Status.GENERATING, started_at__lt=running_before)
    given_up = list(
        abandoned.filter(attempts__gt=settings.SPEECH_MAX_RETRIES).values_list("pk", flat=True)
    )
    failed = Audio.objects.filter(pk__in=given_up, status=Audio.Status.GENERATING).update(
        status=Audio.Status.FAILED, error_message=INTERRUPTED, updated_at=now
    )
    for audio_id in given_up:
        _report_failure(audio_id, INTERRUPTED)
    released = list(abandoned.values_list("pk", flat=True))
    Audio.objects.filter(pk__in=released, status=Audio.Status.GENERATING).update(
        status=Audio.Status.PENDING, updated_at=now
    )
    waiting = list(
        Audio.objects.filter(
            status=Audio.Status.PENDING,
            lifetime_status=Audio.Lifetime.ACTIVE,
            updated_at__lt=pending_before,
        ).values_list("pk", flat=True)[:500]
    )
    for audio_id in [*released, *waiting]:
        _enqueue_on_commit(audio_id)
    return {"failed": failed, "requeued": len(released) + len(waiting)}


# --- Listening and managing -----------------------------------------------------------------


def _require_visible(user: User, audio: Audio, action: Action) -> Document:
    document = audio.page.document
    require(user, action, document)
    return document


def delete_audio(*, user: User, audio: Audio) -> Audio:
    """Soft delete: the row stays (as deleted, and still counts for the quota); the file goes."""
    _require_visible(user, audio, Action.DELETE)
    if audio.lifetime_status != Audio.Lifetime.ACTIVE:
        return audio
    with transaction.atomic():
        _remove(audio)
    audio.refresh_from_db()
    return audio


def _remove(audio: Audio) -> None:
    """Mark the audio deleted and remove its file once that is committed (inside a transaction)."""
    keys = [audio.file_key] if audio.file_key else []
    Audio.objects.filter(pk=audio.pk).update(
        lifetime_status=Audio.Lifetime.DELETED,
        deleted_at=timezone.now(),
        file_key="",
        updated_at=timezone.now(),
    )
    transaction.on_commit(lambda: delete_stored_files(keys=keys))


def retry_audio(*, user: User, audio: Audio) -> Audio:
    _require_visible(user, audio, Action.GENERATE_AUDIO)
    require_generation_on()
    if audio.status != Audio.Status.FAILED or audio.lifetime_status != Audio.Lifetime.ACTIVE:
        raise Conflict(_("Only audio whose making failed can be retried."))
    with transaction.atomic():
        page = Page.objects.select_for_update().get(pk=audio.page_id)
        # A replacement's retry is still free: the audio it replaced holds the slot.
        _check_slot(
            page=page, voice=audio.voice, exclude=audio.pk, charged=audio.replaces_id is None
        )
        try:
            with transaction.atomic():
                updated = Audio.objects.filter(pk=audio.pk, status=Audio.Status.FAILED).update(
                    status=Audio.Status.PENDING, error_message="", updated_at=timezone.now()
                )
        except IntegrityError as exc:
            raise AlreadyExists(_("Audio in this voice exists or is being made.")) from exc
        if not updated:
            raise Conflict(_("Only audio whose making failed can be retried."))
        _enqueue_on_commit(audio.pk)
    audio.refresh_from_db()
    return audio


def require_playable(*, user: User, audio: Audio) -> Audio:
    """An audio the user may listen to now: 404 once deleted or expired, 409 until made."""
    _require_visible(user, audio, Action.VIEW)
    if audio.lifetime_status != Audio.Lifetime.ACTIVE or (
        audio.status == Audio.Status.COMPLETED and not audio.file_key
    ):
        raise NotFound(_("This audio is no longer available."))
    if audio.status != Audio.Status.COMPLETED:
        raise Conflict(_("This audio is not ready yet."))
    return audio


def mark_played(*, user: User, audio: Audio, position_seconds: float | None = None) -> None:
    """Playing renews retention; the listener's position is kept for resuming anywhere."""
    require_playable(user=user, audio=audio)
    now = timezone.now()
    Audio.objects.filter(pk=audio.pk).update(
        last_played_at=now,
        expires_at=now + timedelta(days=site_settings().audio_retention_days),
    )
    if position_seconds is not None:
        position = min(max(position_seconds, 0.0), audio.duration_seconds or 0.0)
        PlaybackPosition.objects.update_or_create(
            user=user, audio=audio, defaults={"position_seconds": position}
        )


# --- Stored files of a document (for document deletion) -------------------------------------


def stored_files_of_document(document: Document) -> list[str]:
    """The document's audio files, but not those that audio of other documents shares
    (speech_processing.reuse): those stay for the others."""
    shared_elsewhere = Audio.objects.filter(file_key=OuterRef("file_key")).exclude(
        page__document=document
    )
    return list(
        Audio.objects.filter(page__document=document)
        .exclude(file_key="")
        .exclude(Exists(shared_elsewhere))
        .values_list("file_key", flat=True)
        .distinct()
    )
