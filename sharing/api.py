"""Sharing endpoints of API.md: shares, invitations, shared-with-me and a document's activity."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle, UserRateThrottle
from rest_framework.views import APIView

from core.pagination import PaginatedView, paginated_response
from sharing import invitations, selectors, services
from sharing.audit import audited, record_removed_with, shared_and_logged
from sharing.models import AccessLog, ShareInvitation
from sharing.policy import Action, get_document
from sharing.serializers import (
    AccessLogSerializer,
    InvitationSerializer,
    ShareChangeSerializer,
    ShareCreateSerializer,
    SharedDocumentSerializer,
    ShareRemoveSerializer,
    ShareSerializer,
)
from users.auth import current_user


class ShareThrottle(UserRateThrottle):
    scope = "share"


class DocumentSharesView(APIView):
    def get_throttles(self) -> list[BaseThrottle]:
        return [ShareThrottle()] if self.request.method == "POST" else []

    @extend_schema(responses={200: ShareSerializer(many=True)}, tags=["sharing"])
    def get(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        document = get_document(user, pk, Action.VIEW)
        shares = selectors.shares_of(user=user, document=document)
        return Response(ShareSerializer(shares, many=True).data)

    @extend_schema(
        request=ShareCreateSerializer,
        responses={201: InvitationSerializer, 200: ShareSerializer},
        tags=["sharing"],
        description=(
            "An address that holds no share on the document is invited (201), whether or not "
            "it has an account; an address that holds one has its permission changed (200)."
        ),
    )
    def post(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        document = get_document(user, pk, Action.VIEW)
        serializer = ShareCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = shared_and_logged(
            request._request, user=user, document=document, **serializer.validated_data
        )
        if isinstance(result, ShareInvitation):
            return Response(InvitationSerializer(result).data, status=status.HTTP_201_CREATED)
        return Response(ShareSerializer(result).data, status=status.HTTP_200_OK)


class DocumentInvitationsView(APIView):
    @extend_schema(responses={200: InvitationSerializer(many=True)}, tags=["sharing"])
    def get(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        document = get_document(user, pk, Action.VIEW)
        pending = selectors.invitations_of(user=user, document=document)
        return Response(InvitationSerializer(pending, many=True).data)


class InvitationDetailView(APIView):
    @extend_schema(responses={204: None}, tags=["sharing"])
    def delete(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        invitation = selectors.invitation_detail(user=user, invitation_id=pk)
        with audited(
            request._request, user=user, action=AccessLog.Action.INVITE_WITHDRAW,
            document=invitation.document, details={"invitation": invitation.pk},
        ):  # fmt: skip
            invitations.withdraw_invitation(user=user, invitation=invitation)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ShareDetailView(APIView):
    @extend_schema(
        request=ShareChangeSerializer, responses={200: ShareSerializer}, tags=["sharing"]
    )
    def patch(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        share = selectors.share_detail(user=user, share_id=pk)
        serializer = ShareChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with audited(
            request._request, user=user, action=AccessLog.Action.PERMISSION_CHANGE,
            document=share.document,
            details={"from": share.permission, "to": serializer.validated_data["permission"],
                     "shared_with": share.shared_with_id},
        ):  # fmt: skip
            share, removed = services.change_share(
                user=user, share=share, **serializer.validated_data
            )
        record_removed_with(request._request, user=user, document=share.document,
                            person_id=share.shared_with_id, removed=removed)  # fmt: skip
        return Response(ShareSerializer(share).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "cascade", bool, description="Also remove the shares this person granted."
            )
        ],
        responses={204: None},
        tags=["sharing"],
    )
    def delete(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        share = selectors.share_detail(user=user, share_id=pk)
        serializer = ShareRemoveSerializer(data=_remove_options(request))
        serializer.is_valid(raise_exception=True)
        with audited(
            request._request, user=user, action=AccessLog.Action.UNSHARE, document=share.document,
            details={"shared_with": share.shared_with_id},
        ):  # fmt: skip
            removed = services.remove_share(user=user, share=share, **serializer.validated_data)
        record_removed_with(request._request, user=user, document=share.document,
                            person_id=share.shared_with_id, removed=removed)  # fmt: skip
        return Response(status=status.HTTP_204_NO_CONTENT)


def _remove_options(request: Request) -> Any:
    """`cascade` from a JSON body (as the web page sends it), else from `?cascade=`."""
    body = request.data
    if isinstance(body, dict) and "cascade" in body:
        return body
    return request.query_params


class SharedWithMeView(PaginatedView):
    @extend_schema(responses={200: SharedDocumentSerializer(many=True)}, tags=["sharing"])
    def get(self, request: Request) -> Response:
        documents = selectors.shared_with_me(user=current_user(request))
        return paginated_response(request, self, documents, SharedDocumentSerializer)


class DocumentActivityView(PaginatedView):
    @extend_schema(responses={200: AccessLogSerializer(many=True)}, tags=["sharing"])
    def get(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        document = get_document(user, pk, Action.VIEW)
        entries = selectors.activity_of(user=user, document=document)
        return paginated_response(request, self, entries, AccessLogSerializer)
