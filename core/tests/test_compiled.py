"""Hot reads compiled once: the same rows as the queryset, with the SQL built once per process."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.models import Count, OuterRef, Subquery
from django.test.utils import CaptureQueriesContext

from core.compiled import CompiledQuery
from document_processing.models import Document, Page
from document_processing.tests.factories import DocumentFactory, PageFactory
from speech_processing.models import Audio
from speech_processing.tests.factories import AudioFactory
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _page_with_document() -> CompiledQuery[Page]:
    return CompiledQuery(
        lambda page_id: Page.objects.select_related("document__owner").filter(pk=page_id),
        page_id=int,
    )


def test_a_row_is_what_the_queryset_gives_with_its_related_objects_in_one_query() -> None:
    page = PageFactory.create(number=2, title="Two")
    query = _page_with_document()

    with CaptureQueriesContext(connection) as queries:
        found = query.first(page_id=page.pk)
        assert found is not None
        owner_email = found.document.owner.email

    assert len(queries.captured_queries) == 1
    expected = Page.objects.select_related("document__owner").get(pk=page.pk)
    assert found == expected
    assert (found.number, found.title, found.updated_at) == (2, "Two", expected.updated_at)
    assert found.document == expected.document
    assert owner_email == expected.document.owner.email
    assert found._state.adding is False
    assert found._state.db == "default"
    assert query.first(page_id=page.pk + 1000) is None


def test_the_sql_is_built_once_and_later_calls_take_their_own_arguments() -> None:
    pages = PageFactory.create_batch(3)
    query = _page_with_document()
    built: list[int] = []

    def build(page_id: int) -> Any:
        built.append(page_id)
        return Page.objects.filter(pk=page_id)

    counted = CompiledQuery(build, page_id=int)
    assert [counted.first(page_id=page.pk) for page in pages] == pages
    # Two builds with stand-ins, on the first call only; none afterwards.
    assert len(built) == 2
    assert not set(built) & {page.pk for page in pages}
    assert [query.first(page_id=page.pk) for page in pages] == pages


def test_several_arguments_constants_and_annotations() -> None:
    owner = UserFactory.create()
    document = DocumentFactory.create(owner=owner)
    for number in (1, 2, 3):
        PageFactory.create(document=document, number=number)
    other = PageFactory.create(number=5)  # another document's page
    later = Subquery(
        Page.objects.filter(document_id=OuterRef("document_id"), number__gt=OuterRef("number"))
        .order_by("number")
        .values("number")[:1]
    )
    query = CompiledQuery(
        lambda document_id, first, title: (
            Page.objects.filter(document_id=document_id, number__gte=first)
            .exclude(title=title)
            .annotate(next_number=later)
            .order_by("number")
        ),
        document_id=int,
        first=int,
        title=str,
    )

    rows = query.all(document_id=document.pk, first=2, title="nothing like it")
    assert [(page.number, page.next_number) for page in rows] == [(2, 3), (3, None)]
    # Zero is a value like any other (a range check must not have dropped the lookup).
    assert len(query.all(document_id=document.pk, first=0, title="x")) == 3
    assert query.all(document_id=other.document_id, first=6, title="x") == []


def test_values_querysets_give_dicts_as_django_does() -> None:
    page = PageFactory.create()
    for voice in ("piper:a", "piper:b"):
        AudioFactory.create(page=page, voice=voice, status=Audio.Status.COMPLETED)
    AudioFactory.create(page=page, voice="piper:c", status=Audio.Status.FAILED)
    query = CompiledQuery(
        lambda document_id: (
            Audio.objects.filter(page__document_id=document_id)
            .exclude(status=Audio.Status.FAILED)
            .order_by()
            .values("page_id")
            .annotate(used=Count("id"))
        ),
        document_id=int,
    )

    assert query.all(document_id=page.document_id) == [{"page_id": page.pk, "used": 2}]


def test_arguments_must_reach_the_sql_unchanged() -> None:
    page = PageFactory.create(title="Chapter one")
    # A `__contains` lookup wraps its value in %...%: the stand-in is not found in the SQL.
    wrapped = CompiledQuery(lambda title: Page.objects.filter(title__contains=title), title=str)
    with pytest.raises(ValueError, match="does not reach the SQL unchanged"):
        wrapped.first(title="one")
    # An argument the query does not use.
    unused = CompiledQuery(lambda page_id: Page.objects.all(), page_id=int)
    with pytest.raises(ValueError, match="page_id"):
        unused.first(page_id=page.pk)
    with pytest.raises(TypeError):
        _page_with_document().first(pk=page.pk)
    with pytest.raises(TypeError):
        CompiledQuery(lambda when: Page.objects.filter(updated_at=when), when=float)


def test_hostile_arguments_stay_parameters() -> None:
    DocumentFactory.create(title="kept")
    query = CompiledQuery(lambda title: Document.objects.filter(title=title), title=str)

    assert query.first(title="x' OR '1'='1") is None
    assert Document.objects.filter(title="kept").exists()


def test_a_compiled_list_pages_as_a_queryset_does() -> None:
    from django.core.paginator import Paginator

    from core.compiled import CompiledList

    document = DocumentFactory.create()
    for number in range(1, 8):
        PageFactory.create(document=document, number=number)
    query = CompiledQuery(
        lambda document_id: Page.objects.filter(document_id=document_id).order_by("number"),
        document_id=int,
    )
    pages = CompiledList(query, document_id=document.pk)

    assert pages.count() == len(pages) == 7
    assert [page.number for page in pages] == list(range(1, 8))
    assert [page.number for page in pages[2:5]] == [3, 4, 5]
    assert pages[6].number == 7
    with pytest.raises(IndexError):
        pages[7]
    paginator = Paginator(pages, 3)
    third = paginator.get_page(3)
    assert paginator.count == 7
    assert paginator.num_pages == 3
    assert [page.number for page in third] == [7]
    assert third.has_previous()
    assert not third.has_next()
    with CaptureQueriesContext(connection) as queries:
        assert [page.number for page in Paginator(pages, 3).get_page(2)] == [4, 5, 6]
    assert len(queries.captured_queries) == 2  # the count and the page
    assert CompiledList(query, document_id=document.pk + 1000).count() == 0
