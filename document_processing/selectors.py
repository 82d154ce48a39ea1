"""Reads: querysets already limited by the access policy and already joined."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _

from core.exceptions import NotFound
from document_processing.models import Document, Page
from sharing.policy import visible_document, visible_documents
from users.models import User

PAGE_SUMMARY_FIELDS = ("id", "document_id", "number", "title", "char_count")


def document_list(
    *, user: User, search: str | None = None, status: str | None = None, scope: str = "all"
) -> QuerySet[Document]:
    documents = visible_documents(user).select_related("owner")
    if scope == "owned":
        documents = documents.filter(owner=user)
    elif scope == "shared":
        documents = documents.exclude(owner=user)
    if search:
        documents = documents.filter(title__icontains=search)
    if status:
        documents = documents.filter(status=status)
    return documents.order_by("-created_at", "-id")


def document_detail(*, user: User, document_id: int) -> Document:
    document = (
        visible_documents(user)
        .select_related("owner")
        .prefetch_related(
            Prefetch(
                "pages",
                queryset=Page.objects.only(*PAGE_SUMMARY_FIELDS).order_by("number"),
                to_attr="page_summaries",
            )
        )
        .filter(pk=document_id)
        .first()
    )
    if document is None:
        raise NotFound(_("Document not found."))
    return document


def page_list(*, document: Document) -> QuerySet[Page]:
    return Page.objects.filter(document=document).only(*PAGE_SUMMARY_FIELDS).order_by("number")


def page_detail(*, user: User, page_id: int) -> Page:
    """A page of a document the user may see, with its neighbours' ids."""
    page = Page.objects.filter(
        pk=page_id, document__in=visible_documents(user).values("pk")
    ).first()
    if page is None:
        raise NotFound(_("Page not found."))
    # The policy annotation travels with the document for later permission checks.
    page.document = visible_document(user, page.document_id)
    return page


def neighbour_ids(*, page: Page) -> tuple[int | None, int | None]:
    siblings = Page.objects.filter(document_id=page.document_id)
    previous = (
        siblings.filter(number__lt=page.number)
        .order_by("-number")
        .values_list("id", flat=True)
        .first()
    )
    following = (
        siblings.filter(number__gt=page.number)
        .order_by("number")
        .values_list("id", flat=True)
        .first()
    )
    return previous, following
