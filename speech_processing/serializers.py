from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.links import id_address
from core.representation import Representation
from core.serializer_fields import StrictCharField
from document_processing.serializers import UserSummarySerializer
from speech_processing.models import Audio, Audiobook, ListeningProgress
from speech_processing.selectors import is_outdated
from speech_processing.voices import display_name_of

VOICE_DISPLAY_NAME_HELP = (
    'The voice as people see it everywhere: "Joe (English (US), Piper, medium)".'
)


class AudioSerializer(serializers.ModelSerializer[Audio]):
    created_by = UserSummarySerializer(read_only=True, allow_null=True)
    outdated = serializers.SerializerMethodField(
        help_text="The page's text changed after this audio was made: its words and read-along "
        "timings no longer match the page. Generating in its voice replaces it."
    )
    download_url = serializers.SerializerMethodField()
    voice_display_name = serializers.SerializerMethodField(help_text=VOICE_DISPLAY_NAME_HELP)

    class Meta:
        model = Audio
        fields = [
            "id", "page", "voice", "voice_display_name", "engine", "status", "lifetime_status",
            "outdated", "error_message", "duration_seconds", "size_bytes", "created_by",
            "created_at", "last_played_at", "expires_at", "download_url",
        ]  # fmt: skip
        read_only_fields = fields

    def get_outdated(self, audio: Audio) -> bool:
        # The page comes with the audio (the selectors join it): no query per row.
        return is_outdated(audio, page_text=audio.page.text)

    def get_voice_display_name(self, audio: Audio) -> str:
        return display_name_of(audio.voice)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_download_url(self, audio: Audio) -> str | None:
        if audio.status != Audio.Status.COMPLETED or audio.lifetime_status != Audio.Lifetime.ACTIVE:
            return None
        return id_address("audio-download", audio.pk)


# The status every player polls: the serializer's fields built once (core.representation).
audio_representation = Representation(AudioSerializer)


class GeneratedAudioSerializer(AudioSerializer):
    """An audio just asked for, with what the caller should know before listening."""

    warnings = serializers.SerializerMethodField(
        help_text="Sentences for people, e.g. that the voice does not speak the page's "
        "language. The audio is made all the same."
    )

    class Meta(AudioSerializer.Meta):
        fields = [*AudioSerializer.Meta.fields, "warnings"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_warnings(self, audio: Audio) -> list[str]:
        return list(self.context.get("warnings", []))


class QuotaSerializer(serializers.Serializer[dict[str, int]]):
    used = serializers.IntegerField()
    max = serializers.IntegerField()
    available = serializers.IntegerField()


class PageAudiosSerializer(serializers.Serializer[dict[str, Any]]):
    audios = AudioSerializer(many=True)
    quota = QuotaSerializer()


class GenerateSerializer(serializers.Serializer[dict[str, Any]]):
    voice = StrictCharField(max_length=200, required=False)


class PlayedSerializer(serializers.Serializer[dict[str, Any]]):
    position_seconds = serializers.FloatField(required=False, min_value=0, max_value=86_400 * 7)


class TimingSerializer(serializers.Serializer[dict[str, Any]]):
    start = serializers.FloatField(help_text="Seconds into the audio where the sentence starts.")
    end = serializers.FloatField(help_text="Seconds into the audio where the next one starts.")
    char_start = serializers.IntegerField(
        help_text="Offset of the sentence's first character in the page's plain `text`."
    )
    char_end = serializers.IntegerField(
        help_text="Offset just past the sentence's last character in the page's plain `text`."
    )


class ChapterSerializer(serializers.Serializer[dict[str, Any]]):
    title = serializers.CharField()
    start = serializers.FloatField()
    end = serializers.FloatField()


class AudiobookSerializer(serializers.ModelSerializer[Audiobook]):
    created_by = UserSummarySerializer(read_only=True, allow_null=True)
    chapters = ChapterSerializer(many=True, read_only=True)
    download_url = serializers.SerializerMethodField()
    voice_display_name = serializers.SerializerMethodField(help_text=VOICE_DISPLAY_NAME_HELP)
    seconds_left = serializers.SerializerMethodField(
        help_text="While the book is made: an estimate of the seconds until its pages' audio is "
        "made, from the synthesis measured so far. Null when nothing is measured yet, while no "
        "page is being made (before the job asks for them, and while the book is joined), and "
        "once finished."
    )

    class Meta:
        model = Audiobook
        fields = [
            "id", "document", "voice", "voice_display_name", "status", "error_message",
            "pages_total", "pages_done",
            "seconds_left", "size_bytes", "duration_seconds", "chapters", "created_by",
            "created_at", "completed_at", "download_url",
        ]  # fmt: skip
        read_only_fields = fields

    def to_representation(self, instance: Audiobook) -> dict[str, Any]:
        data = super().to_representation(instance)
        progress = self.context.get("progress")
        if progress is not None:
            # Read from the pages' audio now, not from the job's last step.
            data["pages_total"] = progress.pages_total
            data["pages_done"] = progress.pages_done
        return data

    def get_voice_display_name(self, book: Audiobook) -> str:
        return display_name_of(book.voice)

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_seconds_left(self, book: Audiobook) -> int | None:
        progress = self.context.get("progress")
        if progress is None or progress.finished or progress.pages_done >= progress.pages_total:
            return None  # finished, being joined, or pages not asked for yet: nothing to measure
        seconds: int | None = progress.seconds_left
        return seconds

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_download_url(self, book: Audiobook) -> str | None:
        if book.status != Audiobook.Status.COMPLETED or not book.file_key:
            return None
        return id_address("audiobook-download", book.pk)


class AudioProgressSerializer(serializers.Serializer[Any]):
    voice = serializers.CharField()
    pages_total = serializers.IntegerField(help_text="The document's pages.")
    pages_done = serializers.IntegerField(help_text="Pages whose audio in the voice is made.")
    pages_in_progress = serializers.IntegerField(
        help_text="Pages whose audio in the voice is waiting to be made or being made."
    )
    pages_failed = serializers.IntegerField(
        help_text="Pages whose last attempt failed, with nothing else on its way."
    )
    pages_without_audio = serializers.IntegerField(
        help_text="Pages nobody asked audio for in the voice (or with nothing to read aloud, or "
        "no quota left)."
    )
    finished = serializers.BooleanField(help_text="Nothing is being made in the voice.")
    seconds_left = serializers.IntegerField(
        allow_null=True,
        help_text="An estimate of the seconds until the pages being made are made: from the "
        "characters made per second since this work began, else from the voice's recent "
        "synthesis speed. 0 when nothing is being made; null when nothing is measured yet.",
    )


class AudioProgressQuerySerializer(serializers.Serializer[dict[str, Any]]):
    voice = StrictCharField(
        max_length=200, required=False,
        help_text="Default: the caller's preferred voice, else the site's.",
    )  # fmt: skip


class AudiobookRequestSerializer(serializers.Serializer[dict[str, Any]]):
    voice = StrictCharField(max_length=200, required=False)


class StrictIdField(serializers.IntegerField):
    """An id: a JSON integer (not "5", not 5.0, not true) that fits a 64-bit column."""

    default_error_messages = {"not_an_integer": _("Must be an integer.")}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, max_value=10**18 - 1, **kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("not_an_integer")
        return int(super().to_internal_value(data))


class ProgressSerializer(serializers.ModelSerializer[ListeningProgress]):
    page_number = serializers.SerializerMethodField()

    class Meta:
        model = ListeningProgress
        fields = [
            "document", "page", "page_number", "audio", "voice", "position_seconds", "device",
            "saved_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = {
            "page": {"allow_null": True},
            "saved_at": {"allow_null": True},
            "updated_at": {"allow_null": True},
        }

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_page_number(self, progress: ListeningProgress) -> int | None:
        return progress.page.number if progress.page_id else None


# Read as every reader opens (core.representation).
progress_representation = Representation(ProgressSerializer)


class ProgressUpdateSerializer(serializers.Serializer[dict[str, Any]]):
    page = StrictIdField(help_text="The page of the document the listener is on.")
    audio = StrictIdField(
        required=False, allow_null=True, help_text="The page's audio being listened to."
    )
    voice = StrictCharField(
        max_length=200, required=False, allow_blank=True,
        help_text="The voice listened in, when no audio is named (the audio's voice otherwise).",
    )  # fmt: skip
    position_seconds = serializers.FloatField(
        required=False, default=0.0, min_value=0, max_value=86_400 * 7
    )
    device = serializers.RegexField(
        r"^[A-Za-z0-9_-]*$", max_length=64, required=False, allow_blank=True,
        help_text="An id the client keeps for itself (letters, digits, - and _). With `saved_at`, "
        "a save from this device that arrives after a later one of it is ignored.",
    )  # fmt: skip
    saved_at = serializers.DateTimeField(
        required=False,
        help_text="When the client made this save, by its clock (a time ahead of the server's "
        "counts as now).",
    )


class ProgressFormSerializer(ProgressUpdateSerializer):
    """The same save as a form (`navigator.sendBeacon` as a page is left): ids as text."""

    page = serializers.IntegerField(  # type: ignore[assignment]
        min_value=1, max_value=10**18 - 1, help_text="The page of the document the listener is on."
    )
    audio = serializers.IntegerField(  # type: ignore[assignment]
        min_value=1, max_value=10**18 - 1, required=False, allow_null=True,
        help_text="The page's audio being listened to.",
    )  # fmt: skip


class VoiceSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.CharField()
    engine = serializers.CharField()
    name = serializers.CharField()
    language = serializers.CharField()
    gender = serializers.CharField()
    display_name = serializers.CharField(help_text=VOICE_DISPLAY_NAME_HELP)
    sample_url = serializers.CharField()


# --- Listening to a whole document ------------------------------------------------------------


class PlaylistAudioSerializer(AudioSerializer):
    stream_url = serializers.SerializerMethodField()

    class Meta(AudioSerializer.Meta):
        fields = [*AudioSerializer.Meta.fields, "stream_url"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_stream_url(self, audio: Audio) -> str | None:
        """Where to listen while it is made (and after: the stream answers as the download)."""
        if audio.lifetime_status != Audio.Lifetime.ACTIVE or audio.status == Audio.Status.FAILED:
            return None
        return id_address("audio-stream", audio.pk)


class PlaylistPageSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    title = serializers.CharField()
    is_contents = serializers.BooleanField(help_text="A table of contents or page of links.")


class PlaylistEntrySerializer(serializers.Serializer[Any]):
    page = PlaylistPageSerializer()
    audio = PlaylistAudioSerializer(allow_null=True)
    reason = serializers.ChoiceField(
        choices=["no_text", "not_permitted", "quota_exceeded", "not_made", "skipped_contents"],
        allow_null=True,
        help_text="Why there is no audio: `no_text` (nothing to speak), `not_permitted` (the "
        "caller may not generate), `quota_exceeded` (the page's quota is used up), `not_made` "
        "(it could be made: POST /documents/{id}/audios/), `skipped_contents` (a table of "
        "contents, passed over unless `include_contents`). Null when there is audio.",
    )


class PlaylistSerializer(serializers.Serializer[Any]):
    voice = serializers.CharField()
    voice_display_name = serializers.SerializerMethodField(help_text=VOICE_DISPLAY_NAME_HELP)
    pages = PlaylistEntrySerializer(many=True)

    def get_voice_display_name(self, playlist: dict[str, Any]) -> str:
        return display_name_of(playlist["voice"])


# Asked for as a player starts and as it moves on (core.representation).
playlist_representation = Representation(PlaylistSerializer)


class PlaylistQuerySerializer(serializers.Serializer[dict[str, Any]]):
    voice = StrictCharField(max_length=200, required=False)
    from_page = serializers.IntegerField(
        required=False, min_value=1, max_value=10**18 - 1,
        help_text="A page of this document to start from (default: the first).",
    )  # fmt: skip
    include_contents = serializers.BooleanField(
        required=False, default=False,
        help_text="Also play tables of contents (by default they are passed over).",
    )  # fmt: skip


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "enum": ["all"]},
            {"type": "array", "items": {"type": "integer"}},
        ]
    }
)
class DocumentPagesField(serializers.Field[Any, Any, Any, Any]):
    """`"all"`, or a list of page ids (JSON integers; a repeat counts once)."""

    default_error_messages = {
        "invalid": _('Give a list of page ids, or "all".'),
        "too_many": _("At most %(limit)d pages at a time."),
        "empty": _("Name at least one page."),
    }

    def to_internal_value(self, data: Any) -> Any:
        if data == "all":
            return "all"
        if not isinstance(data, list):
            self.fail("invalid")
        if not data:
            self.fail("empty")
        if len(data) > settings.DOCUMENT_MAX_PAGES:
            self.fail("too_many", limit=settings.DOCUMENT_MAX_PAGES)
        ids = StrictIdField()
        return list(dict.fromkeys(ids.run_validation(item) for item in data))

    def to_representation(self, value: Any) -> Any:
        return value


class DocumentAudiosRequestSerializer(serializers.Serializer[dict[str, Any]]):
    voice = StrictCharField(
        max_length=200, required=False,
        help_text="Default: the caller's preferred voice, else the site's.",
    )  # fmt: skip
    pages = DocumentPagesField(help_text='Ids of pages of this document, or "all".')


class DocumentAudioResultSerializer(serializers.Serializer[Any]):
    page = serializers.IntegerField()
    outcome = serializers.ChoiceField(
        choices=[
            "created", "exists", "reused", "replaced", "not_permitted", "quota_exceeded",
            "no_text",
        ]
    )  # fmt: skip
    audio = PlaylistAudioSerializer(allow_null=True)


class DocumentAudiosSerializer(serializers.Serializer[Any]):
    results = DocumentAudioResultSerializer(many=True)


# --- Listening while audio is made ------------------------------------------------------------


class PartsQuerySerializer(serializers.Serializer[dict[str, Any]]):
    after = serializers.IntegerField(
        required=False, default=0, min_value=0, max_value=1_000_000,
        help_text="How many parts the listener has received (the manifest lists the rest).",
    )  # fmt: skip


class PartsManifestSerializer(serializers.Serializer[dict[str, Any]]):
    status = serializers.ChoiceField(choices=Audio.Status.choices)
    attempt = serializers.IntegerField(
        allow_null=True,
        help_text="The synthesis under way; parts of another attempt do not continue these.",
    )
    first = serializers.IntegerField(help_text="The number of the first part listed.")
    parts = serializers.ListField(
        child=serializers.CharField(),
        help_text="URLs of the parts stored so far from `first` on, in order. Each is a slice "
        "of the MP3 stream, readable without a session until the audio is made.",
    )
    rest_url = serializers.CharField(
        allow_null=True,
        help_text="Once the audio is made: its file, read with `Range: bytes=<received>-`.",
    )
    poll_ms = serializers.IntegerField(
        allow_null=True, help_text="When to ask again (null once the audio is made)."
    )
    follow_url = serializers.CharField(
        allow_null=True,
        help_text="Where to ask again, with `&after=<parts received>`: the same answer without "
        "a session (null once the audio is made).",
    )
