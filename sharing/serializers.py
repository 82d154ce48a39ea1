from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from document_processing.models import Document
from document_processing.serializers import DocumentSerializer, UserSummarySerializer
from sharing.models import AccessLog, DocumentShare


class ShareSerializer(serializers.ModelSerializer[DocumentShare]):
    shared_with = UserSummarySerializer(read_only=True)
    shared_by = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = DocumentShare
        fields = ["id", "document", "shared_with", "permission", "shared_by", "created_at"]
        read_only_fields = fields


class ShareCreateSerializer(serializers.Serializer[dict[str, Any]]):
    email = serializers.EmailField(max_length=254)
    permission = serializers.ChoiceField(choices=DocumentShare.Permission.choices)


class ShareChangeSerializer(serializers.Serializer[dict[str, Any]]):
    permission = serializers.ChoiceField(choices=DocumentShare.Permission.choices)


class SharedDocumentSerializer(DocumentSerializer):
    shared_by = serializers.SerializerMethodField()

    class Meta(DocumentSerializer.Meta):
        fields = [*DocumentSerializer.Meta.fields, "shared_by"]
        read_only_fields = fields

    @extend_schema_field(UserSummarySerializer(allow_null=True))
    def get_shared_by(self, document: Document) -> dict[str, Any] | None:
        shared_by_id = getattr(document, "shared_by_id", None)
        if shared_by_id is None:
            return None
        return {"id": shared_by_id, "email": getattr(document, "shared_by_email", "")}


class AccessLogSerializer(serializers.ModelSerializer[AccessLog]):
    user = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = AccessLog
        fields = ["id", "user", "action", "outcome", "audio", "created_at"]
        read_only_fields = fields
