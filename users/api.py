"""Account endpoints of API.md: register, token, logout, me."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import logout
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from users import deletion, services
from users.auth import current_user
from users.serializers import (
    CredentialsSerializer,
    DeleteAccountSerializer,
    MeSerializer,
    PreferencesSerializer,
    RegistrationSerializer,
    TokenSerializer,
)
from users.throttles import (
    DeleteAccountThrottle,
    LoginAccountThrottle,
    LoginIPThrottle,
    RegisterThrottle,
)


class RegisterView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [RegisterThrottle]

    @extend_schema(
        request=CredentialsSerializer,
        responses={201: RegistrationSerializer},
        tags=["accounts"],
        description=(
            "Sign up. The answer is the same whether or not the address already has an account, "
            "so it never says which addresses do: a new address gets an account and a "
            "confirmation email; an address with an account gets an email to its owner instead, "
            "and nothing is created. The account's id is in GET /api/v1/auth/me/ once logged in."
        ),
    )
    def post(self, request: Request) -> Response:
        serializer = CredentialsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        email = services.register_user(**serializer.validated_data, request=request._request)
        return Response(
            RegistrationSerializer({"email": email}).data, status=status.HTTP_201_CREATED
        )


class TokenView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginIPThrottle, LoginAccountThrottle]

    @extend_schema(
        request=CredentialsSerializer, responses={200: TokenSerializer}, tags=["accounts"]
    )
    def post(self, request: Request) -> Response:
        serializer = CredentialsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token = services.issue_token(**serializer.validated_data)
        return Response({"token": token.key})


class LogoutView(APIView):
    @extend_schema(request=None, responses={204: None}, tags=["accounts"])
    def post(self, request: Request) -> Response:
        services.revoke_token(user=current_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class _BodyOnDeleteSchema(AutoSchema):
    """drf-spectacular leaves out request bodies of DELETE; deleting the account takes the
    password in one (API.md), so this operation documents it."""

    def _get_request_body(self, direction: str = "request") -> dict[str, Any] | None:
        if self.method != "DELETE":
            return super()._get_request_body(direction)
        self.method = "POST"
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"


class MeView(APIView):
    schema = _BodyOnDeleteSchema()

    def get_throttles(self) -> list[BaseThrottle]:
        # Deleting checks a password: as slow to guess as logging in.
        return [DeleteAccountThrottle()] if self.request.method == "DELETE" else []

    @extend_schema(responses={200: MeSerializer}, tags=["accounts"])
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(current_user(request)).data)

    @extend_schema(request=PreferencesSerializer, responses={200: MeSerializer}, tags=["accounts"])
    def patch(self, request: Request) -> Response:
        serializer = PreferencesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.update_preferences(
            user=current_user(request),
            **serializer.validated_data,
        )
        return Response(MeSerializer(user).data)

    @extend_schema(
        request=DeleteAccountSerializer,
        responses={204: None},
        tags=["accounts"],
        description=(
            "Delete the caller's account for good: its documents, pages, audio files, exports, "
            "the shares it gave and received, tokens and sessions. People its documents were "
            "shared with are told by email. Audit entries keep an anonymous id instead of the "
            "person. A wrong password is 400 and changes nothing."
        ),
    )
    def delete(self, request: Request) -> Response:
        serializer = DeleteAccountSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        deletion.request_account_deletion(
            user=current_user(request),
            password=serializer.validated_data.get("password"),
            request=request._request,
        )
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)
