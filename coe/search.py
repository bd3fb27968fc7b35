"""Global search (``/search/?q=``): each app registers the kinds of thing it can find.

A kind is a function ``find(user, query, limit) -> list[SearchHit]`` that reads only what
``coe.scoping`` lets the user see and returns at most ``limit`` hits. The page asks each
kind for one hit more than it shows, to say "more than N" without counting everything.
The core finds factories; the registry, the requests and the connectors register theirs
from their ``AppConfig.ready()`` (the higher layer calls down, as for the factory panels).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Q
from django.http import HttpRequest
from django.shortcuts import render

from coe import policy
from coe.scoping import visible_factories

PER_KIND = 10
MIN_QUERY = 2
MAX_QUERY = 100


@dataclass(frozen=True)
class SearchHit:
    label: str
    url: str
    detail: str = ""


@dataclass(frozen=True)
class SearchKind:
    key: str
    label: str
    order: int
    find: Callable[[object, str, int], list[SearchHit]]


_KINDS: dict[str, SearchKind] = {}


def register_search_kind(
    key: str, *, label: str, order: int, find: Callable[[object, str, int], list[SearchHit]]
) -> None:
    """Add (or replace) a kind of search result."""
    _KINDS[key] = SearchKind(key=key, label=label, order=order, find=find)


def find_factories(user, query: str, limit: int) -> list[SearchHit]:
    factories = (
        visible_factories(user)
        .filter(
            Q(name__icontains=query)
            | Q(slug__icontains=query)
            | Q(business_unit__icontains=query)
            | Q(site__icontains=query)
        )
        .order_by("name")[:limit]
    )
    return [
        SearchHit(f.name, f.get_absolute_url(), f"{f.business_unit} · {f.get_kind_display()}")
        for f in factories
    ]


register_search_kind("factories", label="Factories", order=10, find=find_factories)


def search_all(user, query: str, per_kind: int = PER_KIND) -> list[dict]:
    """``[{key, label, hits, more}]`` for every kind with a hit, in order."""
    groups = []
    for kind in sorted(_KINDS.values(), key=lambda k: (k.order, k.key)):
        hits = kind.find(user, query, per_kind + 1)
        if hits:
            groups.append(
                {
                    "key": kind.key,
                    "label": kind.label,
                    "hits": hits[:per_kind],
                    "more": len(hits) > per_kind,
                }
            )
    return groups


@policy.page_rule()
def search(request: HttpRequest):
    """Factories, tools (by name or alias), processes, devices (serial, MAC or name) and
    requests matching ``q``, each kind bounded, among what the user may see."""
    query = " ".join(request.GET.get("q", "").split())[:MAX_QUERY]
    groups: list[dict] = []
    too_short = bool(query) and len(query) < MIN_QUERY
    if query and not too_short:
        groups = search_all(request.user, query)
    return render(
        request,
        "coe/search.html",
        {
            "search_query": query,
            "groups": groups,
            "too_short": too_short,
            "min_query": MIN_QUERY,
            "per_kind": PER_KIND,
        },
    )
