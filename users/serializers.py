from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.serializer_fields import StrictCharField
from users.models import User


class CredentialsSerializer(serializers.Serializer[dict[str, str]]):
    email = serializers.EmailField(max_length=254)
    password = StrictCharField(max_length=256, trim_whitespace=False, write_only=True)


class RegistrationSerializer(serializers.Serializer[dict[str, str]]):
    # No id: it would tell a new address from one that already has an account.
    email = serializers.EmailField()


class TokenSerializer(serializers.Serializer[dict[str, str]]):
    token = serializers.CharField()


class MeSerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ["id", "email", "preferred_voice"]
        read_only_fields = ["id", "email", "preferred_voice"]


class PreferencesSerializer(serializers.Serializer[dict[str, str]]):
    preferred_voice = serializers.RegexField(
        r"^[a-z0-9_-]{1,40}:[A-Za-z0-9_.+-]{1,150}$",
        required=False,
        allow_blank=True,
        error_messages={
            "invalid": _("A voice id looks like engine:name, e.g. piper:en_US-joe-medium.")
        },
    )


class DeleteAccountSerializer(serializers.Serializer[dict[str, str]]):
    # Not required here: an account made through social sign-in has no password (the service
    # then asks for a fresh sign-in with the provider instead).
    password = StrictCharField(
        max_length=256, trim_whitespace=False, write_only=True, required=False, allow_blank=True
    )
