"""One serializer instance per process: the same answer as a new serializer, fields built once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from rest_framework import serializers

from core.representation import Representation
from document_processing.serializers import PageSerializer, page_representation
from document_processing.tests.factories import PageFactory
from speech_processing.serializers import AudioSerializer, audio_representation
from speech_processing.tests.factories import AudioFactory

pytestmark = pytest.mark.django_db


def test_the_answer_is_the_serializers_for_every_object() -> None:
    audios = AudioFactory.create_batch(3)
    for audio in audios:
        assert audio_representation(audio) == AudioSerializer(audio).data
    page = PageFactory.create()
    page.previous_page_id, page.next_page_id = 7, None  # type: ignore[attr-defined]
    answer = page_representation(page)
    assert answer == {**PageSerializer(page).data, "previous": 7, "next": None}


def test_fields_are_built_once_whatever_the_number_of_objects_or_threads() -> None:
    built: list[int] = []

    class Counting(serializers.Serializer[dict[str, Any]]):
        name = serializers.CharField()
        size = serializers.IntegerField()

        def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
            built.append(1)
            return super().get_fields()

    represent = Representation(Counting)
    answers: list[dict[str, Any]] = []

    def work(n: int) -> None:
        for i in range(50):
            answers.append(represent({"name": f"item {n}-{i}", "size": i}))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(built) == 1
    assert len(answers) == 200
    assert {"name": "item 3-49", "size": 49} in answers
