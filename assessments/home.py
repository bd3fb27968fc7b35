"""The home page, by role: what each person comes to do, on the first screen.

- CoE staff: a cockpit over the whole portfolio — stage distribution and dimension scores
  by business unit, the duplicate findings with the most money at stake, the request queue
  by step, audits due and overdue, connectors whose last sync failed.
- Business owners: "My factories" — per factory its stage, index and change since the
  previous audit, the dimension that caps it and the next step, ROI and payback, money at
  stake in open findings and the requests waiting for them.
- Members: their factories and their requests, and "Request a tool".

Every figure is read in batches: the number of queries does not grow with the portfolio.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from decimal import Decimal

from django.db.models import Count, Sum
from django.shortcuts import render
from django.utils import timezone

from assessments import selectors
from assessments.choices import STAGE_NAMES
from assessments.views import _portfolio_charts
from coe import policy
from coe.choices import Role
from coe.models import Factory
from coe.scoping import factory_roles, visible_factories
from connectors.choices import SyncStatus
from connectors.selectors import connectors_for
from kpis import reads
from registry.choices import LIVE_FINDING_STATUSES
from registry.selectors import findings_visible
from tool_requests.choices import OPEN_STATUSES, RequestStatus
from tool_requests.selectors import approval_queue, requests_visible

TOP_FINDINGS = 10
DUE_WITHIN_DAYS = 30
MY_REQUESTS = 10


def _next_step(assessment) -> dict:
    """The capping dimension's name and the first roadmap step of a final audit, named."""
    result = assessment.result or {}
    overall = result.get("overall", {})
    dims = {d["key"]: d["name"] for d in result.get("dimensions", [])}
    step = None
    roadmap = result.get("roadmap") or []
    if roadmap:
        first = roadmap[0]
        names = {
            c["key"]: c["name"]
            for d in assessment.model.definition.get("dimensions", [])
            for c in d.get("criteria", [])
        }
        stage = overall.get("stage")
        step = {
            "criterion": names.get(first["criterion"], first["criterion"]),
            "dimension": dims.get(first["dimension"], first["dimension"]),
            "current": first["current"],
            "target": first["target"],
            "next_stage": STAGE_NAMES.get(stage + 1) if stage else None,
            "steps": len(roadmap),
        }
    return {"capped_by": dims.get(overall.get("capped_by")), "next_step": step}


def factory_rows(user, factories: list[Factory]) -> list[dict]:
    """One row per factory for "My factories"; a fixed number of queries for any count."""
    if not factories:
        return []
    ids = [f.pk for f in factories]
    latest = selectors.latest_finals_by_factory(Factory.objects.filter(pk__in=ids))
    previous = selectors.previous_finals(list(latest.values()))
    # ROI and money at stake: the factories' KPI rollup figures (one query).
    figures = reads.figures_by_factory(factories)
    rois = {f.pk: reads.roi_of_figures(figures.get(f.pk), f) for f in factories}
    waiting = Counter(approval_queue(user).values_list("factory_id", flat=True))
    rows = []
    for factory in factories:
        audit = latest.get(factory.pk)
        row = {
            "factory": factory,
            "audit": audit,
            "roi": rois.get(factory.pk),
            "roi_missing_rate": factory.pk in rois and rois.get(factory.pk) is None,
            "at_stake": figures[factory.pk].at_stake if factory.pk in figures else Decimal("0"),
            "waiting": waiting.get(factory.pk, 0),
            "change": None,
            "capped_by": None,
            "next_step": None,
        }
        if audit is not None and audit.result:
            row.update(_next_step(audit))
            before = previous.get(audit.pk)
            if before is not None and before.index is not None and audit.index is not None:
                row["change"] = {
                    "index": audit.index - before.index,
                    "stage": (audit.stage or 0) - (before.stage or 0),
                    "since": before.assessed_on,
                }
        rows.append(row)
    return rows


def _cockpit(request) -> dict:
    """CoE staff's view of the whole portfolio."""
    user = request.user
    factories = list(visible_factories(user).order_by("business_unit", "name"))
    scores = selectors.portfolio_scores_for(factories)
    stage_counts = Counter(row["result"]["overall"]["stage"] for row in scores)
    top_findings = list(
        findings_visible(user)
        .filter(status__in=LIVE_FINDING_STATUSES)
        .select_related("capability", "scope")
        .prefetch_related("tools")
        .order_by("-annual_cost_at_stake", "id")[:TOP_FINDINGS]
    )
    at_stake = findings_visible(user).filter(status__in=LIVE_FINDING_STATUSES).aggregate(
        total=Sum("annual_cost_at_stake")
    )["total"] or Decimal("0")
    by_status = dict(
        requests_visible(user)
        .filter(status__in=OPEN_STATUSES)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    queue = [
        {"status": value, "label": label, "count": by_status.get(value, 0)}
        for value, label in RequestStatus.choices
        if value in OPEN_STATUSES
    ]
    today = timezone.localdate()
    schedule = selectors.audit_schedule(user, today)
    soon = today + dt.timedelta(days=DUE_WITHIN_DAYS)
    audits = [r for r in schedule if r["overdue"] or (r["next_due"] and r["next_due"] <= soon)]
    failing = list(
        connectors_for(user)
        .filter(last_run_status=SyncStatus.FAILED)
        .select_related("factory")
        .order_by("factory__name", "name")
    )
    charts = _portfolio_charts(scores)
    unit_table = _unit_table(scores)
    return {
        "factory_count": len(factories),
        "assessed_count": len(scores),
        "stages": [
            {"stage": s, "name": STAGE_NAMES[s], "count": stage_counts.get(s, 0)}
            for s in sorted(STAGE_NAMES)
        ],
        "chart_stages": charts.get("chart_stages", ""),
        "chart_heatmap_units": charts.get("chart_heatmap_units", ""),
        "unit_table": unit_table,
        "top_findings": top_findings,
        "at_stake": at_stake,
        "queue": queue,
        "queue_mine": approval_queue(user).count(),
        "audits": audits,
        "audits_overdue": sum(1 for r in audits if r["overdue"]),
        "failing": failing,
    }


def _unit_table(scores: list[dict]) -> dict:
    """Mean dimension score per business unit, as a table (the heatmap's text alternative)."""
    columns: dict[str, str] = {}
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in scores:
        for dim in row["result"]["dimensions"]:
            columns.setdefault(dim["key"], dim["name"])
            if dim["score"] is not None:
                values[row["factory"].business_unit][dim["key"]].append(dim["score"])
    rows = [
        {
            "unit": unit,
            "cells": [
                round(sum(v) / len(v), 2) if (v := values[unit][k]) else None for k in columns
            ],
        }
        for unit in sorted(values)
    ]
    return {"columns": list(columns.values()), "rows": rows}


@policy.page_rule()
def home(request):
    """The landing page: CoE staff's cockpit, or the user's own factories and requests."""
    user = request.user
    # The cockpit is for whoever may read the whole portfolio's change log: CoE staff.
    context: dict = {"is_staff": policy.allowed(user, "coe.view_audit_log")}
    if context["is_staff"]:
        context.update(_cockpit(request))
        return render(request, "home/cockpit.html", context)
    roles = factory_roles(user)
    owned = [pk for pk, role in roles.items() if role == Role.BUSINESS_OWNER]
    member_of = [pk for pk, role in roles.items() if role != Role.BUSINESS_OWNER]
    factories = {f.pk: f for f in Factory.objects.filter(pk__in=roles).order_by("name")}
    context["owned_rows"] = factory_rows(user, [factories[pk] for pk in factories if pk in owned])
    context["member_rows"] = factory_rows(
        user, [factories[pk] for pk in factories if pk in member_of]
    )
    context["my_requests"] = list(
        requests_visible(user)
        .filter(requester=user)
        .select_related("factory", "tool")
        .order_by("-created_at", "-id")[:MY_REQUESTS]
    )
    context["waiting_count"] = approval_queue(user).count()
    return render(request, "home/home.html", context)
