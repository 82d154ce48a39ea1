"""Serializer fields that refuse values of the wrong JSON type instead of coercing them."""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

# Lone UTF-16 halves ("\ud800" in JSON) and NUL: no database stores them in text columns.
_NOT_STORABLE = re.compile("[\x00\ud800-\udfff]")


class StrictCharField(serializers.CharField):
    """A string, and only a string: 5, true or [..] are errors, not "5", "True" or "[..]"."""

    default_error_messages = {
        "not_a_string": _("Must be a string."),
        "invalid_characters": _("Contains characters that are not valid text."),
    }

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        if _NOT_STORABLE.search(data):
            self.fail("invalid_characters")
        return str(super().to_internal_value(data))
