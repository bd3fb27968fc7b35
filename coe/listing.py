"""Lists in pages: sorting by a whitelisted column, and the CSV of what is shown.

``?sort=name`` sorts ascending, ``?sort=-name`` descending; a key outside the list's
whitelist is ignored (the default order applies), so no query string reaches
``order_by`` unchecked. ``?export=csv`` answers the filtered, sorted rows as CSV through
:mod:`coe.exports` — the same rows the page shows, every page of them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.http import HttpResponse, QueryDict

from coe.exports import csv_response

# At most this many rows go into one export (a bounded response).
EXPORT_LIMIT = 50_000


@dataclass(frozen=True)
class SortColumn:
    label: str
    key: str
    url: str
    direction: str  # "ascending", "descending" or "" (not the current sort)
    numeric: bool = False


def apply_sort(request, queryset, columns: Mapping[str, str | tuple[str, ...]], default):
    """``queryset`` ordered by the request's ``sort`` if whitelisted (key → field(s))."""
    raw = request.GET.get("sort", "")
    key = raw.lstrip("-")
    if key not in columns:
        return queryset.order_by(*default), ""
    fields = columns[key]
    fields = (fields,) if isinstance(fields, str) else fields
    descending = raw.startswith("-")
    ordering = [f"-{f}" if descending else f for f in fields]
    return queryset.order_by(*ordering, "pk"), raw


def sort_headers(request, labels: Sequence[tuple[str, str | None]], current: str):
    """Header cells: (label, key or None for a column that does not sort)."""
    headers = []
    for label, key in labels:
        if key is None:
            headers.append(SortColumn(label, "", "", ""))
            continue
        params: QueryDict = request.GET.copy()
        params.pop("page", None)
        params.pop("export", None)
        direction = ""
        if current == key:
            direction = "ascending"
            params["sort"] = f"-{key}"
        elif current == f"-{key}":
            direction = "descending"
            params["sort"] = key
        else:
            params["sort"] = key
        headers.append(SortColumn(label, key, "?" + params.urlencode(), direction))
    return headers


def export_url(request) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    params["export"] = "csv"
    return "?" + params.urlencode()


def wants_export(request) -> bool:
    return request.GET.get("export") == "csv"


def export_csv(
    filename: str,
    header: Sequence[str],
    rows: Iterable[Any],
    row: Callable[[Any], Sequence[Any]],
) -> HttpResponse:
    """The rows as CSV (at most ``EXPORT_LIMIT``)."""
    if hasattr(rows, "query"):  # a queryset: let the database stop at the limit
        rows = rows[:EXPORT_LIMIT]
    limited = (row(obj) for obj in itertools.islice(rows, EXPORT_LIMIT))
    return csv_response(filename, header, limited)
