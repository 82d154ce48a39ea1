"""Reads: querysets already limited by the access policy and already joined."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from core.compiled import CompiledList, CompiledQuery
from core.exceptions import NotFound
from document_processing.models import Document, Page, PageImport
from sharing.policy import permitted, visible_documents
from users.models import User

PAGE_SUMMARY_FIELDS = (
    "id", "document_id", "number", "title", "char_count", "is_contents", "language",
)  # fmt: skip


# The columns a list of documents shows (the API's rows, the library's); the others (the notes,
# the stored file's key, the processing bookkeeping) stay in the database. Reading one of those
# from a listed document costs a query.
DOCUMENT_LIST_FIELDS = (
    "id", "title", "status", "error_message", "source_type", "source_url", "original_filename",
    "page_count", "char_count", "language", "cover_key", "created_at", "updated_at",
    "owner__email",
)  # fmt: skip


def _documents(
    *, user: User, search: str | None = None, status: str | None = None, scope: str = "all"
) -> QuerySet[Document]:
    documents = visible_documents(user).select_related("owner").only(*DOCUMENT_LIST_FIELDS)
    if scope == "owned":
        documents = documents.filter(owner=user)
    elif scope == "shared":
        documents = documents.exclude(owner=user)
    if search:
        documents = documents.filter(title__icontains=search)
    if status:
        documents = documents.filter(status=status)
    return documents.order_by("-created_at", "-id")


# A row of the document list (DocumentListSerializer) as values: building a document and its
# owner as model instances cost more than the query at 20 rows.
DOCUMENT_ROW_FIELDS = (*DOCUMENT_LIST_FIELDS, "owner_id", "caller_permission")

# The lists every library and client opens, by scope and whether a status is asked for, compiled
# once (core.compiled); a search (a `LIKE` pattern) is built as a queryset each time.
_LISTS: dict[tuple[str, bool, bool], CompiledQuery[Any]] = {}


def _compiled_list(*, scope: str, status: bool, values: bool) -> CompiledQuery[Any]:
    key = (scope, status, values)
    if key not in _LISTS:

        def build(user_id: int, status: str = "") -> QuerySet[Any]:
            documents = _documents(user=User(pk=user_id), status=status, scope=scope)
            return documents.values(*DOCUMENT_ROW_FIELDS) if values else documents

        arguments: dict[str, type] = {"user_id": int, "status": str} if status else {"user_id": int}
        _LISTS[key] = CompiledQuery(build, **arguments)
    return _LISTS[key]


def document_list(
    *, user: User, search: str | None = None, status: str | None = None, scope: str = "all"
) -> QuerySet[Document] | CompiledList[Document]:
    """The documents the user may see, newest first, each with its owner's email and the caller's
    permission (DOCUMENT_LIST_FIELDS loaded): what a paginator takes (a count and a slice)."""
    if search:
        return _documents(user=user, search=search, status=status, scope=scope)
    query = _compiled_list(scope=scope, status=bool(status), values=False)
    return CompiledList(query, user_id=user.pk, **({"status": status} if status else {}))


def document_rows(
    *, user: User, search: str | None = None, status: str | None = None, scope: str = "all"
) -> QuerySet[Document, dict[str, Any]] | CompiledList[dict[str, Any]]:
    """`document_list` as dictionaries of DOCUMENT_ROW_FIELDS, in the same order."""
    if search:
        documents = _documents(user=user, search=search, status=status, scope=scope)
        return documents.values(*DOCUMENT_ROW_FIELDS)
    query = _compiled_list(scope=scope, status=bool(status), values=True)
    return CompiledList(query, user_id=user.pk, **({"status": status} if status else {}))


def document_detail(*, user: User, document_id: int) -> Document:
    document = (
        Document.objects.select_related("owner")
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
    if permitted(user, document) is None:
        raise NotFound(_("Document not found."))
    assert document is not None
    return document


def page_list(*, document: Document) -> QuerySet[Page]:
    return Page.objects.filter(document=document).only(*PAGE_SUMMARY_FIELDS).order_by("number")


# Read by every page view and every generate: compiled once (core.compiled).
_PAGE_DETAIL = CompiledQuery(
    lambda page_id: Page.objects.select_related("document__owner").filter(pk=page_id),
    page_id=int,
)


def page_detail(*, user: User, page_id: int) -> Page:
    """A page of a document the user may see, with its neighbours' ids."""
    page = _PAGE_DETAIL.first(page_id=page_id)
    # The caller's permission travels with the document for later permission checks.
    if page is None or permitted(user, page.document) is None:
        raise NotFound(_("Page not found."))
    return page


def _neighbour(*, before: bool) -> Subquery:
    """The id of the page just before (or after) the outer query's page in its document."""
    siblings = Page.objects.filter(document_id=OuterRef("document_id"))
    if before:
        siblings = siblings.filter(number__lt=OuterRef("number")).order_by("-number")
    else:
        siblings = siblings.filter(number__gt=OuterRef("number")).order_by("number")
    return Subquery(siblings.values("id")[:1])


# Asked by every page shown (the API's page and the reader): both neighbours in one query,
# compiled once (core.compiled).
_NEIGHBOURS = CompiledQuery(
    lambda page_id: (
        Page.objects.filter(pk=page_id)
        .only("id")
        .annotate(previous_page_id=_neighbour(before=True), next_page_id=_neighbour(before=False))
    ),
    page_id=int,
)


def neighbour_ids(*, page: Page) -> tuple[int | None, int | None]:
    """The ids of the pages before and after this one in its document."""
    found = _NEIGHBOURS.first(page_id=page.pk)
    if found is None:
        return None, None
    return found.previous_page_id, found.next_page_id


def stored_files_in_use(keys: Iterable[str]) -> set[str]:
    """Those of `keys` that a document names as its original or its cover (STORED_FILE_IN_USE)."""
    wanted = [key for key in keys if key]
    if not wanted:
        return set()
    named = Document.objects.filter(Q(file_key__in=wanted) | Q(cover_key__in=wanted))
    return {key for pair in named.values_list("file_key", "cover_key") for key in pair} & set(
        wanted
    )


# How long the document page keeps showing a person the pages they asked to add from the web.
RECENT_PAGE_IMPORTS = timedelta(days=1)
RECENT_PAGE_IMPORTS_SHOWN = 5


def page_import_detail(*, user: User, page_import_id: int) -> PageImport:
    """An import into a document the user may see (anyone who sees the pages may follow it)."""
    page_import = (
        PageImport.objects.filter(pk=page_import_id)
        .select_related("first_page", "document__owner")
        .first()
    )
    if page_import is None or permitted(user, page_import.document) is None:
        raise NotFound(_("Page import not found."))
    return page_import


def recent_page_imports(*, user: User, document: Document) -> list[PageImport]:
    """The pages this person asked to add from the web lately, newest first, whatever became of
    them: being fetched, added, or failed with a message."""
    return list(
        PageImport.objects.filter(
            document=document,
            requested_by=user,
            created_at__gte=timezone.now() - RECENT_PAGE_IMPORTS,
        )
        .select_related("first_page")
        .order_by("-created_at", "-id")[:RECENT_PAGE_IMPORTS_SHOWN]
    )
