from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from core.compiled import CompiledList
from core.query_params import parse_digits


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Request) -> int | None:
        """`page_size` must be a whole number from 1 up; larger values are capped."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None or raw == "":
            return self.page_size
        size = parse_digits(raw, max_digits=9)
        if not size:
            raise ValidationError({self.page_size_query_param: [_("Enter a whole number from 1.")]})
        return min(size, self.max_page_size)


# An API view whose GET answers one page of `{count, next, previous, results}`. Declaring the
# paginator on the view lets the OpenAPI schema describe the page envelope and its `page` and
# `page_size` parameters, not a bare array. (No docstring: the schema would show it as every
# subclass's description.)
class PaginatedView(APIView):
    pagination_class = PageNumberPagination


def paginated_response(
    request: Request,
    view: APIView,
    queryset: QuerySet[Any] | CompiledList[Any],
    serializer_class: type[BaseSerializer[Any]],
) -> Response:
    """One page of `queryset` as `{count, next, previous, results}`."""
    paginator = getattr(view, "pagination_class", PageNumberPagination)()
    # A CompiledList paginates as a queryset does (a count and a slice).
    page = paginator.paginate_queryset(queryset, request, view=view)  # type: ignore[arg-type]
    return paginator.get_paginated_response(serializer_class(page, many=True).data)
