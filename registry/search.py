"""What the global search (``coe.search``) finds in the registry: tools by name or alias,
processes, and tool requests the user may see."""

from __future__ import annotations

from django.db.models import Q
from django.urls import reverse

from coe.search import SearchHit
from registry.models import Process, Tool


def find_tools(user, query: str, limit: int) -> list[SearchHit]:
    """Tools whose name, vendor or one of whose aliases contains ``query`` (the registry
    is readable by everyone signed in)."""
    matching = Q(name__icontains=query) | Q(vendor__icontains=query)
    alias_ids = Tool.objects.filter(aliases__name__icontains=query).values("pk")
    tools = (
        Tool.objects.filter(matching | Q(pk__in=alias_ids))
        .prefetch_related("aliases")
        .order_by("name")[:limit]
    )
    hits = []
    lowered = query.lower()
    for tool in tools:
        aliases = [a.name for a in tool.aliases.all() if lowered in a.name.lower()]
        detail = " · ".join(
            part
            for part in (
                tool.vendor,
                tool.get_ring_display(),
                f"also known as {', '.join(aliases)}" if aliases else "",
            )
            if part
        )
        hits.append(SearchHit(tool.name, tool.get_absolute_url(), detail))
    return hits


def find_processes(user, query: str, limit: int) -> list[SearchHit]:
    processes = (
        Process.objects.filter(
            Q(name__icontains=query) | Q(slug__icontains=query) | Q(description__icontains=query)
        )
        .select_related("capability")
        .order_by("name")[:limit]
    )
    url = reverse("process-list")
    return [
        SearchHit(p.name, f"{url}#process-{p.slug}", p.capability.name if p.capability else "")
        for p in processes
    ]
