from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.serializer_fields import StrictCharField
from document_processing.serializers import UserSummarySerializer
from speech_processing.models import Audio, Audiobook, ListeningProgress


class AudioSerializer(serializers.ModelSerializer[Audio]):
    created_by = UserSummarySerializer(read_only=True, allow_null=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Audio
        fields = [
            "id", "page", "voice", "engine", "status", "lifetime_status", "error_message",
            "duration_seconds", "size_bytes", "created_by", "created_at", "last_played_at",
            "expires_at", "download_url",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_download_url(self, audio: Audio) -> str | None:
        if audio.status != Audio.Status.COMPLETED or audio.lifetime_status != Audio.Lifetime.ACTIVE:
            return None
        return reverse("audio-download", kwargs={"pk": audio.pk})


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

    class Meta:
        model = Audiobook
        fields = [
            "id", "document", "voice", "status", "error_message", "pages_total", "pages_done",
            "size_bytes", "duration_seconds", "chapters", "created_by", "created_at",
            "completed_at", "download_url",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_download_url(self, book: Audiobook) -> str | None:
        if book.status != Audiobook.Status.COMPLETED or not book.file_key:
            return None
        return reverse("audiobook-download", kwargs={"pk": book.pk})


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
            "document", "page", "page_number", "audio", "voice", "position_seconds", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = {"page": {"allow_null": True}, "updated_at": {"allow_null": True}}

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_page_number(self, progress: ListeningProgress) -> int | None:
        return progress.page.number if progress.page_id else None


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


class VoiceSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.CharField()
    engine = serializers.CharField()
    name = serializers.CharField()
    language = serializers.CharField()
    gender = serializers.CharField()
    sample_url = serializers.CharField()
