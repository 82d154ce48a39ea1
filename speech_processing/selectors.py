"""Reads for audio, limited by the access policy."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from core.exceptions import NotFound
from document_processing.models import Page
from sharing.policy import visible_document, visible_documents
from speech_processing.models import Audio
from users.models import User


def audio_detail(*, user: User, audio_id: int) -> Audio:
    """An audio of a document the user may see (deleted and expired ones included)."""
    audio = (
        Audio.objects.select_related("created_by", "page")
        .filter(pk=audio_id, page__document__in=visible_documents(user).values("pk"))
        .first()
    )
    if audio is None:
        raise NotFound(_("Audio not found."))
    # The document carries the caller's permission for later checks.
    audio.page.document = visible_document(user, audio.page.document_id)
    return audio


def page_audios(*, page: Page) -> QuerySet[Audio]:
    return (
        Audio.objects.filter(page=page).select_related("created_by").order_by("-created_at", "-id")
    )
