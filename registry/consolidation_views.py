"""Pages for consolidation: merge a tool into another (tool page), record a plan on a
finding and the realised-savings trend (duplicates page)."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from coe import policy
from coe.models import Factory
from coe.plotly_div import div_html
from registry import consolidation
from registry.models import DuplicateFinding, Tool
from registry.selectors import findings_visible


@require_POST
@policy.page_rule()
def tool_merge(request, slug: str):
    """CoE staff merge this tool into another (by slug or exact name)."""
    tool = get_object_or_404(Tool, slug=slug)
    into = request.POST.get("into", "").strip()
    target = Tool.objects.filter(slug=into).first() or Tool.objects.filter(name=into).first()
    if target is None:
        messages.error(request, f"No registry tool '{into}' to merge into.")
        return redirect(tool.get_absolute_url())
    try:
        result = consolidation.tool_merge(
            source=tool, target=target, comment=request.POST.get("comment", ""), actor=request.user
        )
    except DjangoValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        return redirect(tool.get_absolute_url())
    messages.success(
        request,
        f"Merged '{tool.name}' into '{target.name}': {result['adoptions']} adoption(s), "
        f"{result['requests']} request(s), {result['aliases']} alias(es) moved.",
    )
    return redirect(target.get_absolute_url())


def _visible_finding(request, pk: int, **_kwargs) -> DuplicateFinding:
    return get_object_or_404(findings_visible(request.user), pk=pk)


@require_POST
@policy.page_rule(obj=_visible_finding)
def finding_plan(request, pk: int, obj):
    """CoE staff record a consolidation plan: target standard, factories, due date, owner."""
    finding = obj
    try:
        due = request.POST.get("due_on") or ""
        consolidation.finding_plan(
            finding=finding,
            standard=Tool.objects.filter(slug=request.POST.get("standard", "")).first(),
            factories=Factory.objects.filter(slug__in=_plan_slugs(request.POST)),
            due_on=dt.date.fromisoformat(due) if due else None,
            owner=request.user,
        )
        messages.success(request, f"Finding {finding.pk}: consolidation plan recorded.")
    except (DjangoValidationError, ValueError) as exc:
        text = "; ".join(getattr(exc, "messages", [str(exc)]))
        messages.error(request, f"Finding {finding.pk}: {text}")
    return redirect(request.POST.get("next") or "duplicate-list")


def _plan_slugs(post) -> list[str]:
    """The plan's factories: those ticked in the list and any typed beyond the list's
    preview (comma-separated slugs)."""
    more = [s.strip() for s in post.get("factories_more", "").split(",") if s.strip()]
    return [*post.getlist("factories"), *more]


def savings_trend_html(summary: dict, *, div_id: str = "chart-savings-trend") -> str:
    """Cumulative realised savings by month of detection (a plotly line)."""
    months = [row["month"] for row in summary["trend"]]
    values = [float(row["realised_savings"]) for row in summary["trend"]]
    data = [
        {"type": "scatter", "x": months, "y": values, "mode": "lines+markers", "name": "Realised"}
    ]
    layout = {
        "yaxis": {"title": {"text": "Realised annual savings"}},
        "margin": {"l": 60, "r": 20, "t": 20, "b": 40},
        "font": {"family": "system-ui, sans-serif", "size": 12},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "height": 280,
    }
    return div_html(data, layout, div_id=div_id)
