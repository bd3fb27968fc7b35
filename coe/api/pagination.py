from functools import partial

from django.core.paginator import Paginator
from rest_framework.pagination import PageNumberPagination

from coe.rowcounts import visible_rows

# Query parameters that choose a page or a rendering, never which rows: a list asked with
# only these is unfiltered.
NOT_FILTERS = frozenset({"page", "page_size", "ordering", "format"})


class CountedPaginator(Paginator):
    """A paginator whose ``count`` is known beforehand (no ``COUNT(*)`` query)."""

    def __init__(self, object_list, per_page, *, count: int, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.__dict__["count"] = count  # ``count`` is a cached property


class StandardPagination(PageNumberPagination):
    """``?page=`` and ``?page_size=`` (up to 1000); answers ``count, next, previous, results``.

    A view whose rows are counted per factory (``row_count_table``, see
    :mod:`coe.rowcounts`) answers its unfiltered ``list``'s ``count`` from the stored
    counts of the factories the caller sees; any filter parameter, or another action
    that pages its own rows, counts the rows themselves.
    """

    page_size_query_param = "page_size"
    max_page_size = 1000

    def paginate_queryset(self, queryset, request, view=None):
        table = getattr(view, "row_count_table", None)
        listing = getattr(view, "action", None) == "list"  # (not an action's own rows)
        if table and listing and NOT_FILTERS.issuperset(request.query_params):
            self.django_paginator_class = partial(
                CountedPaginator, count=visible_rows(table, request.user)
            )
        return super().paginate_queryset(queryset, request, view)
