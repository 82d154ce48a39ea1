"""Every endpoint of API.md by every kind of caller, with the exact status of each cell.

The table is checked against the URL configuration: an endpoint (path and method) without a row
fails the suite, so a new endpoint cannot ship without deciding who may call it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import client_for
from document_processing.models import Document, Page, PageImport
from document_processing.tests.factories import document_with_pages
from exports.models import Export
from sharing.models import DocumentShare, ShareInvitation
from speech_processing.live import follow_token
from speech_processing.models import Audio, Audiobook
from users.models import User
from users.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ROLES = ["owner", "can_share", "collaborator", "view_only", "stranger", "anonymous"]


@dataclass
class World:
    people: dict[str, User]
    document: Document
    page_id: int
    audio_id: int
    failed_audio_id: int
    share_by_owner: int  # alice → the view_only person
    share_by_sharer: int  # the can_share person → a friend of theirs
    export_id: int  # the owner's finished export
    audiobook_id: int  # the owner's finished audiobook of the document
    page_import_id: int  # the owner's page added by URL
    invitation_by_owner: int  # alice → an address without a share
    invitation_by_sharer: int  # the can_share person → another such address


def build_world() -> World:
    people = {
        role: UserFactory.create(email=f"{role}@example.com")
        for role in ("owner", "can_share", "collaborator", "view_only", "stranger")
    }
    friend = UserFactory.create(email="friend@example.com")
    UserFactory.create(email="newcomer@example.com")
    owner = people["owner"]
    document = document_with_pages(owner=owner, pages=2)
    document.cover_key = default_storage.save("covers/matrix.jpg", ContentFile(b"\xff\xd8\xff"))
    document.save(update_fields=["cover_key"])
    page = document.pages.order_by("number").first()
    assert page is not None
    key = default_storage.save("audio/matrix.mp3", ContentFile(b"\xff\xfb\x90\x00" * 64))
    audio = Audio.objects.create(
        page=page, voice="fake:alpha", engine="fake", status=Audio.Status.COMPLETED,
        file_key=key, size_bytes=256, duration_seconds=1.0, created_by=owner,
    )  # fmt: skip
    failed = Audio.objects.create(
        page=page, voice="fake:beta", engine="fake", status=Audio.Status.FAILED, created_by=owner
    )
    shares = {}
    for role in ("can_share", "collaborator", "view_only"):
        shares[role] = DocumentShare.objects.create(
            document=document, shared_with=people[role], permission=role, shared_by=owner
        )
    by_sharer = DocumentShare.objects.create(
        document=document, shared_with=friend, permission="view_only",
        shared_by=people["can_share"],
    )  # fmt: skip
    export = Export.objects.create(
        user=owner, status=Export.Status.COMPLETED, size_bytes=2,
        file_key=default_storage.save("exports/matrix.zip", ContentFile(b"PK")),
    )  # fmt: skip
    book_key = default_storage.save("audiobooks/matrix.m4b", ContentFile(b"\x00" * 64))
    book = Audiobook.objects.create(
        document=document, voice="fake:alpha", created_by=owner, file_key=book_key,
        status=Audiobook.Status.COMPLETED, size_bytes=64,
    )  # fmt: skip
    page_import = PageImport.objects.create(
        document=document, requested_by=owner, url="https://example.com/more"
    )
    expires_at = timezone.now() + timedelta(days=14)
    invited = [
        ShareInvitation.objects.create(
            document=document, email=email, permission="view_only", invited_by=by,
            expires_at=expires_at,
        )
        for email, by in (("guest@example.com", owner), ("guest2@example.com", people["can_share"]))
    ]  # fmt: skip
    return World(people, document, page.pk, audio.pk, failed.pk, shares["view_only"].pk,
                 by_sharer.pk, export.pk, book.pk, page_import.pk,
                 invited[0].pk, invited[1].pk)  # fmt: skip


@dataclass(frozen=True)
class Row:
    method: str
    route: str  # as in the URL configuration, with {placeholders}
    path: Callable[[World], str]
    expected: tuple[int, int, int, int, int, int]  # in the order of ROLES
    body: Any = None
    format: str = "json"


D = lambda w: w.document.pk  # noqa: E731
ALL_SEE = (200, 200, 200, 200, 404, 401)

ROWS = [
    # Accounts
    Row("post", "/api/v1/auth/register/", lambda w: "/api/v1/auth/register/",
        (201, 201, 201, 201, 201, 201),
        body=lambda role: {"email": f"new-{role}@example.com", "password": DEFAULT_PASSWORD}),
    Row("post", "/api/v1/auth/token/", lambda w: "/api/v1/auth/token/",
        (200, 200, 200, 200, 200, 200),
        body=lambda role: {"email": "owner@example.com", "password": DEFAULT_PASSWORD}),
    Row("post", "/api/v1/auth/logout/", lambda w: "/api/v1/auth/logout/", (204,) * 5 + (401,)),
    Row("get", "/api/v1/auth/me/", lambda w: "/api/v1/auth/me/", (200,) * 5 + (401,)),
    Row("patch", "/api/v1/auth/me/", lambda w: "/api/v1/auth/me/", (200,) * 5 + (401,),
        body={"preferred_voice": "fake:beta"}),
    # Everyone may delete their own account (with their password) and export their own data.
    Row("delete", "/api/v1/auth/me/", lambda w: "/api/v1/auth/me/", (204,) * 5 + (401,),
        body={"password": DEFAULT_PASSWORD}),
    Row("post", "/api/v1/auth/me/export/", lambda w: "/api/v1/auth/me/export/",
        (202,) * 5 + (401,)),
    Row("get", "/api/v1/exports/{id}/", lambda w: f"/api/v1/exports/{w.export_id}/",
        (200, 404, 404, 404, 404, 401)),
    Row("get", "/api/v1/exports/{id}/download/",
        lambda w: f"/api/v1/exports/{w.export_id}/download/", (200, 404, 404, 404, 404, 401)),
    # Documents and pages
    Row("get", "/api/v1/documents/", lambda w: "/api/v1/documents/", (200,) * 5 + (401,)),
    Row("post", "/api/v1/documents/", lambda w: "/api/v1/documents/", (202,) * 5 + (401,),
        body={"title": "Notes", "text": "Hello there."}),
    Row("get", "/api/v1/documents/{id}/", lambda w: f"/api/v1/documents/{D(w)}/", ALL_SEE),
    Row("patch", "/api/v1/documents/{id}/", lambda w: f"/api/v1/documents/{D(w)}/",
        (200, 403, 403, 403, 404, 401), body={"title": "Renamed"}),
    Row("delete", "/api/v1/documents/{id}/", lambda w: f"/api/v1/documents/{D(w)}/",
        (204, 403, 403, 403, 404, 401)),
    Row("post", "/api/v1/documents/{id}/retry/", lambda w: f"/api/v1/documents/{D(w)}/retry/",
        (409, 403, 403, 403, 404, 401)),
    Row("get", "/api/v1/documents/{id}/pages/", lambda w: f"/api/v1/documents/{D(w)}/pages/",
        ALL_SEE),
    Row("get", "/api/v1/documents/{id}/cover/", lambda w: f"/api/v1/documents/{D(w)}/cover/",
        ALL_SEE),
    Row("post", "/api/v1/documents/{id}/pages/", lambda w: f"/api/v1/documents/{D(w)}/pages/",
        (201, 201, 201, 403, 404, 401), body={"markdown": "# More\n\nText."}),
    Row("post", "/api/v1/documents/{id}/pages/", lambda w: f"/api/v1/documents/{D(w)}/pages/",
        (202, 202, 202, 403, 404, 401), body={"url": "https://example.com/more"}),
    Row("get", "/api/v1/page-imports/{id}/",
        lambda w: f"/api/v1/page-imports/{w.page_import_id}/", ALL_SEE),
    Row("get", "/api/v1/pages/{id}/", lambda w: f"/api/v1/pages/{w.page_id}/", ALL_SEE),
    Row("patch", "/api/v1/pages/{id}/", lambda w: f"/api/v1/pages/{w.page_id}/",
        (200, 200, 200, 403, 404, 401), body={"markdown": "# Edited\n\nNew text."}),
    # Voices and audio
    Row("get", "/api/v1/voices/", lambda w: "/api/v1/voices/", (200,) * 5 + (401,)),
    Row("get", "/api/v1/voices/{voice_id}/sample/", lambda w: "/api/v1/voices/fake:alpha/sample/",
        (200,) * 5 + (401,)),
    Row("get", "/api/v1/pages/{id}/audios/", lambda w: f"/api/v1/pages/{w.page_id}/audios/",
        ALL_SEE),
    Row("post", "/api/v1/pages/{id}/audios/", lambda w: f"/api/v1/pages/{w.page_id}/audios/",
        (202, 202, 202, 403, 404, 401), body={"voice": "fake:beta"}),
    Row("get", "/api/v1/audios/{id}/", lambda w: f"/api/v1/audios/{w.audio_id}/", ALL_SEE),
    Row("delete", "/api/v1/audios/{id}/", lambda w: f"/api/v1/audios/{w.audio_id}/",
        (204, 403, 403, 403, 404, 401)),
    Row("get", "/api/v1/audios/{id}/download/",
        lambda w: f"/api/v1/audios/{w.audio_id}/download/", ALL_SEE),
    Row("post", "/api/v1/audios/{id}/played/", lambda w: f"/api/v1/audios/{w.audio_id}/played/",
        (204, 204, 204, 204, 404, 401), body={"position_seconds": 0.5}),
    Row("post", "/api/v1/audios/{id}/retry/",
        lambda w: f"/api/v1/audios/{w.failed_audio_id}/retry/", (202, 202, 202, 403, 404, 401)),
    Row("get", "/api/v1/audios/{id}/timings/",
        lambda w: f"/api/v1/audios/{w.audio_id}/timings/?format=vtt", ALL_SEE),
    Row("get", "/api/v1/audios/{id}/stream/",
        lambda w: f"/api/v1/audios/{w.audio_id}/stream/", ALL_SEE),
    # Listening part by part: the manifest as the audio; its follow URL and the parts' URLs
    # are their own credential (signed for the audio), so they answer anyone holding one and
    # nobody without.
    Row("get", "/api/v1/audios/{id}/parts/",
        lambda w: f"/api/v1/audios/{w.audio_id}/parts/", ALL_SEE),
    Row("get", "/api/v1/audios/{id}/parts/follow/",
        lambda w: f"/api/v1/audios/{w.audio_id}/parts/follow/?token={follow_token(w.audio_id)}",
        (200,) * 6),
    Row("get", "/api/v1/audios/{id}/parts/follow/",
        lambda w: f"/api/v1/audios/{w.audio_id}/parts/follow/?token=forged", (404,) * 6),
    Row("get", "/api/v1/audios/{id}/parts/{attempt}/{number}.mp3",
        lambda w: f"/api/v1/audios/{w.audio_id}/parts/1/0.mp3?token=forged", (404,) * 6),
    Row("get", "/api/v1/documents/{id}/playlist/",
        lambda w: f"/api/v1/documents/{D(w)}/playlist/?voice=fake:alpha", ALL_SEE),
    # Who may only view learns per page that they may not make it (as the playlist says).
    Row("post", "/api/v1/documents/{id}/audios/", lambda w: f"/api/v1/documents/{D(w)}/audios/",
        (202, 202, 202, 202, 404, 401), body={"voice": "fake:beta", "pages": "all"}),
    # How far the document's audio in a voice has got: anyone who may see it.
    Row("get", "/api/v1/documents/{id}/audio-progress/",
        lambda w: f"/api/v1/documents/{D(w)}/audio-progress/?voice=fake:alpha", ALL_SEE),
    Row("post", "/api/v1/documents/{id}/audiobook/",
        lambda w: f"/api/v1/documents/{D(w)}/audiobook/", (202, 202, 202, 403, 404, 401),
        body={"voice": "fake:beta"}),
    Row("get", "/api/v1/audiobooks/{id}/", lambda w: f"/api/v1/audiobooks/{w.audiobook_id}/",
        ALL_SEE),
    Row("get", "/api/v1/audiobooks/{id}/download/",
        lambda w: f"/api/v1/audiobooks/{w.audiobook_id}/download/", ALL_SEE),
    Row("get", "/api/v1/documents/{id}/progress/",
        lambda w: f"/api/v1/documents/{D(w)}/progress/", ALL_SEE),
    # Everyone who may listen keeps their own place.
    Row("put", "/api/v1/documents/{id}/progress/",
        lambda w: f"/api/v1/documents/{D(w)}/progress/", (200, 200, 200, 200, 404, 401),
        body=lambda role: {"page": Page.objects.order_by("pk").values_list("pk", flat=True)[0],
                           "position_seconds": 3.5}),
    # ... also by POST (what a page sends with navigator.sendBeacon as it is left).
    Row("post", "/api/v1/documents/{id}/progress/",
        lambda w: f"/api/v1/documents/{D(w)}/progress/", (200, 200, 200, 200, 404, 401),
        body=lambda role: {"page": Page.objects.order_by("pk").values_list("pk", flat=True)[0],
                           "position_seconds": 3.5}),
    # Sharing
    Row("get", "/api/v1/documents/{id}/shares/", lambda w: f"/api/v1/documents/{D(w)}/shares/",
        (200, 200, 403, 403, 404, 401)),
    Row("post", "/api/v1/documents/{id}/shares/", lambda w: f"/api/v1/documents/{D(w)}/shares/",
        (201, 201, 403, 403, 404, 401),
        body={"email": "newcomer@example.com", "permission": "view_only"}),
    Row("patch", "/api/v1/shares/{id}/", lambda w: f"/api/v1/shares/{w.share_by_owner}/",
        (200, 403, 403, 403, 404, 401), body={"permission": "collaborator"}),
    Row("patch", "/api/v1/shares/{id}/", lambda w: f"/api/v1/shares/{w.share_by_sharer}/",
        (200, 200, 403, 403, 404, 401), body={"permission": "collaborator"}),
    # The view_only person's own share: they may leave, nobody else but the owner may remove it.
    Row("delete", "/api/v1/shares/{id}/", lambda w: f"/api/v1/shares/{w.share_by_owner}/",
        (204, 403, 403, 204, 404, 401)),
    Row("delete", "/api/v1/shares/{id}/", lambda w: f"/api/v1/shares/{w.share_by_sharer}/",
        (204, 204, 403, 403, 404, 401)),
    # Invitations: listed to those who may share; withdrawn by the owner or whoever sent them.
    Row("get", "/api/v1/documents/{id}/invitations/",
        lambda w: f"/api/v1/documents/{D(w)}/invitations/", (200, 200, 403, 403, 404, 401)),
    Row("delete", "/api/v1/invitations/{id}/",
        lambda w: f"/api/v1/invitations/{w.invitation_by_owner}/", (204, 403, 404, 404, 404, 401)),
    Row("delete", "/api/v1/invitations/{id}/",
        lambda w: f"/api/v1/invitations/{w.invitation_by_sharer}/",
        (204, 204, 404, 404, 404, 401)),
    Row("get", "/api/v1/shared-with-me/", lambda w: "/api/v1/shared-with-me/", (200,) * 5 + (401,)),
    Row("get", "/api/v1/documents/{id}/activity/",
        lambda w: f"/api/v1/documents/{D(w)}/activity/", (200, 200, 403, 403, 404, 401)),
    # Operations
    Row("get", "/api/v1/schema/", lambda w: "/api/v1/schema/", (200,) * 5 + (401,)),
    Row("get", "/api/v1/docs/", lambda w: "/api/v1/docs/", (200,) * 5 + (401,)),
]  # fmt: skip

CELLS = [
    pytest.param(row, role, id=f"{row.method.upper()} {row.route} as {role} [{i}]")
    for i, row in enumerate(ROWS)
    for role in ROLES
]


@pytest.mark.parametrize(("row", "role"), CELLS)
def test_cell(row: Row, role: str) -> None:
    world = build_world()
    client = APIClient() if role == "anonymous" else client_for(world.people[role])
    body = row.body(role) if callable(row.body) else row.body
    response = getattr(client, row.method)(row.path(world), body, format=row.format)
    expected = row.expected[ROLES.index(role)]
    assert response.status_code == expected, getattr(response, "data", response)
    if expected >= 400 and "json" in response["Content-Type"]:
        # (The schema and docs views answer in their own formats: YAML and HTML.)
        assert response.json()["error"]["code"]


def _routes() -> set[tuple[str, str]]:
    """Every (method, path) the API serves, from the URL configuration and the views."""
    found: set[tuple[str, str]] = set()

    def walk(patterns: list[URLPattern | URLResolver], prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
                continue
            if route.startswith("^") or not route.startswith("api/v1/"):
                continue
            view = getattr(pattern.callback, "view_class", None) or getattr(
                pattern.callback, "cls", None
            )
            methods = [m for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)]
            path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route).replace("{pk}", "{id}")
            found.update((method, path) for method in methods)

    walk(get_resolver().url_patterns, "")
    return found


def test_every_endpoint_has_a_row() -> None:
    covered = {(row.method, row.route) for row in ROWS}
    missing = _routes() - covered
    assert missing == set(), f"add access-matrix rows for {sorted(missing)}"
    assert covered - _routes() == set()
