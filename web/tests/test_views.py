from __future__ import annotations

import pytest
from django.test import Client

from document_processing.tests.factories import document_with_pages
from sharing.models import DocumentShare
from users.models import User

pytestmark = pytest.mark.django_db


def test_home_page_renders() -> None:
    response = Client().get("/")
    assert response.status_code == 200
    assert b"Pagecast" in response.content


def test_the_document_page_follows_the_access_policy(alice: User, bob: User, charlie: User) -> None:
    document = document_with_pages(owner=alice, pages=2, title="Shared <b>notes</b>")
    DocumentShare.objects.create(document=document, shared_with=bob, permission="view_only")
    url = f"/documents/{document.pk}/"
    anonymous = Client().get(url)
    assert anonymous.status_code == 302
    assert "/accounts/login/" in anonymous["Location"]
    for person, status in ((alice, 200), (bob, 200), (charlie, 404)):
        client = Client()
        client.force_login(person)
        response = client.get(url)
        assert response.status_code == status
    client = Client()
    client.force_login(bob)
    html = client.get(url).content.decode()
    assert "Shared &lt;b&gt;notes&lt;/b&gt;" in html
    assert "2 pages" in html
