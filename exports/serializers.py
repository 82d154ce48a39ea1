from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from exports.models import Export
from exports.services import is_downloadable


class ExportSerializer(serializers.ModelSerializer[Export]):
    error_message = serializers.CharField(source="error", read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = [
            "id", "status", "error_message", "size_bytes", "created_at", "completed_at",
            "expires_at", "download_url",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_download_url(self, export: Export) -> str | None:
        if not is_downloadable(export):
            return None
        return reverse("export-download", kwargs={"pk": export.pk})
