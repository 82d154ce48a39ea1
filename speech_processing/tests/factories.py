from __future__ import annotations

import factory

from document_processing.tests.factories import PageFactory
from speech_processing.models import Audio


class AudioFactory(factory.django.DjangoModelFactory[Audio]):
    class Meta:
        model = Audio

    page = factory.SubFactory(PageFactory)
    voice = "fake:alpha"
    engine = "fake"
    status = Audio.Status.COMPLETED
