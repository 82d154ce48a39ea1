from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.serializer_fields import StrictCharField
from document_processing.serializers import UserSummarySerializer
from speech_processing.models import Audio


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


class VoiceSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.CharField()
    engine = serializers.CharField()
    name = serializers.CharField()
    language = serializers.CharField()
    gender = serializers.CharField()
    sample_url = serializers.CharField()
