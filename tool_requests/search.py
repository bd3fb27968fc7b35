"""Global search (``/search/``): tool requests by tool, proposed name, justification or number."""

from __future__ import annotations

from django.db.models import Q

from coe.search import SearchHit
from tool_requests.selectors import requests_visible


def find_requests(user, query: str, limit: int) -> list[SearchHit]:
    """Requests by tool, proposed name or justification, or by number ("12" or "#12")."""
    condition = (
        Q(tool__name__icontains=query)
        | Q(proposed_name__icontains=query)
        | Q(justification__icontains=query)
    )
    number = query.lstrip("#")
    if number.isdigit() and len(number) < 10:
        condition |= Q(pk=int(number))
    requests = (
        requests_visible(user)
        .filter(condition)
        .select_related("tool", "factory")
        .order_by("-created_at", "-id")[:limit]
    )
    return [
        SearchHit(
            f"#{r.pk} {r.tool_name}",
            r.get_absolute_url(),
            f"{r.factory.name} · {r.get_status_display()}",
        )
        for r in requests
    ]
