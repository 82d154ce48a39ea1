"""Serializer fields that refuse values of the wrong JSON type instead of coercing them."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A string, and only a string: 5, true or [..] are errors, not "5", "True" or "[..]"."""

    default_error_messages = {"not_a_string": _("Must be a string.")}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return str(super().to_internal_value(data))
