from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from document_processing.models import Document
from document_processing.serializers import DocumentSerializer, UserSummarySerializer
from sharing.models import AccessLog, DocumentShare, ShareInvitation
from sharing.policy import granter_has_access


class ShareSerializer(serializers.ModelSerializer[DocumentShare]):
    shared_with = UserSummarySerializer(read_only=True)
    shared_by = UserSummarySerializer(read_only=True, allow_null=True)
    granter_has_access = serializers.SerializerMethodField()

    class Meta:
        model = DocumentShare
        fields = [
            "id",
            "document",
            "shared_with",
            "permission",
            "shared_by",
            "created_at",
            "granter_has_access",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField())
    def get_granter_has_access(self, share: DocumentShare) -> bool:
        # False once whoever gave the share may no longer share the document; the share stays.
        return granter_has_access(share)


class InvitationSerializer(serializers.ModelSerializer[ShareInvitation]):
    """A pending invitation. Sharing by email answers with one whether or not the address has
    an account (sharing/invitations.py)."""

    status = serializers.SerializerMethodField()
    invited_by = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = ShareInvitation
        fields = [
            "id",
            "status",
            "document",
            "email",
            "permission",
            "invited_by",
            "created_at",
            "expires_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=["invited"]))
    def get_status(self, invitation: ShareInvitation) -> str:
        return "invited"


class ShareCreateSerializer(serializers.Serializer[dict[str, Any]]):
    email = serializers.EmailField(max_length=254)
    permission = serializers.ChoiceField(choices=DocumentShare.Permission.choices)


class ShareChangeSerializer(serializers.Serializer[dict[str, Any]]):
    permission = serializers.ChoiceField(choices=DocumentShare.Permission.choices)
    cascade = serializers.BooleanField(
        required=False,
        default=False,
        help_text="If the person can no longer share, also remove the shares they granted.",
    )


class ShareRemoveSerializer(serializers.Serializer[dict[str, Any]]):
    cascade = serializers.BooleanField(
        required=False, default=False, help_text="Also remove the shares this person granted."
    )


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
