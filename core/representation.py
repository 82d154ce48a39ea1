"""One serializer instance per process for hot reads.

DRF builds a serializer's fields anew for every instance it makes (a ModelSerializer from the
model's fields, each nested serializer again): for an audio's status this costs more than the
queries behind it. A read-only serializer's fields hold no per-object state, so one instance can
represent every object, as the child of a `many=True` serializer already does for its rows.
"""

from __future__ import annotations

import threading
from typing import Any, Generic, TypeVar

from rest_framework.serializers import Serializer

T = TypeVar("T")


class Representation(Generic[T]):
    """`Representation(AudioSerializer)(audio)` is `AudioSerializer(audio).data`, with the
    serializer's fields built once. Only for serializers that read no `context`."""

    def __init__(self, serializer_class: type[Serializer[T]]) -> None:
        self._serializer_class = serializer_class
        self._serializer: Serializer[T] | None = None
        self._lock = threading.Lock()

    def __call__(self, instance: T) -> dict[str, Any]:
        serializer = self._serializer
        if serializer is None:
            with self._lock:
                serializer = self._serializer or self._serializer_class()
                serializer.fields  # noqa: B018 (built here, once, before it is shared)
                self._serializer = serializer
        return serializer.to_representation(instance)
