"""Portfolio pages (they sit in the top app because they draw on every other app)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import render

from assessments import charts
from coe.scoping import visible_factories


@login_required
def portfolio(request):
    """The portfolio at a glance: the factories the user may see, by business unit."""
    factories = visible_factories(request.user).order_by("business_unit", "name")
    by_unit: dict[str, list] = {}
    for factory in factories:
        by_unit.setdefault(factory.business_unit, []).append(factory)
    counts = list(
        visible_factories(request.user)
        .values("business_unit", "kind")
        .annotate(count=Count("id"))
        .order_by()
    )
    return render(
        request,
        "assessments/portfolio.html",
        {
            "by_unit": by_unit,
            "factory_count": len(factories),
            "software_count": sum(c["count"] for c in counts if c["kind"] == "software"),
            "manufacturing_count": sum(c["count"] for c in counts if c["kind"] == "manufacturing"),
            "chart_units": charts.factories_by_unit(counts) if counts else "",
        },
    )
