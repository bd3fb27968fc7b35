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
from collections import Counter
from decimal import Decimal

from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import render
from django.utils import timezone

from assessments import portfolio_reads
from assessments.models import FactoryMaturity
from coe import policy
from coe.models import Factory
from coe.prefetch import listed
from coe.scoping import factory_ids, owned_factory_ids, visible_factories
from connectors.choices import SyncStatus
from connectors.selectors import connectors_for
from kpis import reads
from registry.choices import LIVE_FINDING_STATUSES
from registry.selectors import at_stake_total, findings_visible
from tool_requests.choices import OPEN_STATUSES, RequestStatus
from tool_requests.selectors import approval_queue, requests_visible

TOP_FINDINGS = 10
DUE_WITHIN_DAYS = 30
MY_REQUESTS = 10
PAGE_SIZE = 50


def factory_rows(user, factories: list[Factory]) -> list[dict]:
    """One row per factory for "My factories" (a page of them): the stored maturity rows,
    the KPI rollup figures and the approval queue; a fixed number of queries."""
    if not factories:
        return []
    ids = [f.pk for f in factories]
    maturity = {m.factory_id: m for m in FactoryMaturity.objects.filter(factory_id__in=ids)}
    # ROI and money at stake: the factories' KPI rollup figures (one query).
    figures = reads.figures_by_factory(factories)
    rois = {f.pk: reads.roi_of_figures(figures.get(f.pk), f) for f in factories}
    waiting = Counter(
        approval_queue(user).filter(factory_id__in=ids).values_list("factory_id", flat=True)
    )
    rows = []
    for factory in factories:
        audit = maturity.get(factory.pk)
        row = {
            "factory": factory,
            "audit": audit,
            "roi": rois.get(factory.pk),
            "roi_missing_rate": factory.pk in rois and rois.get(factory.pk) is None,
            "at_stake": figures[factory.pk].at_stake if factory.pk in figures else Decimal("0"),
            "waiting": waiting.get(factory.pk, 0),
            "change": None,
            "capped_by": audit.capped_by or None if audit else None,
            "next_step": audit.next_step if audit else None,
        }
        if audit is not None and audit.previous_index is not None:
            row["change"] = {
                "index": audit.index - audit.previous_index,
                "stage": (audit.stage or 0) - (audit.previous_stage or 0),
                "since": audit.previous_assessed_on,
            }
        rows.append(row)
    return rows


def _cockpit(request) -> dict:
    """CoE staff's view of the whole portfolio."""
    user = request.user
    factories = visible_factories(user)
    top_findings = list(
        findings_visible(user)
        .filter(status__in=LIVE_FINDING_STATUSES)
        .select_related("capability", "scope")
        .prefetch_related(listed("tools"))
        # Not shown: the largest findings carry thousands of entries in these columns.
        .defer("detail", "baseline")
        .order_by("-annual_cost_at_stake", "id")[:TOP_FINDINGS]
    )
    # The same total as the duplicates page: each adoption counted once, however many
    # live findings cover it.
    at_stake = at_stake_total(findings_visible(user))
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
    soon = today + dt.timedelta(days=DUE_WITHIN_DAYS)
    audits = Paginator(portfolio_reads.audits_due(factories, today, soon), PAGE_SIZE).get_page(
        request.GET.get("audits_page")
    )
    failing = list(
        connectors_for(user)
        .filter(last_run_status=SyncStatus.FAILED)
        .select_related("factory")
        .order_by("factory__name", "name")
    )
    charts = portfolio_reads.portfolio_charts(factories, per_factory=False)
    return {
        "factory_count": factories.count(),
        "assessed_count": charts["assessed_count"],
        "stages": charts["stages"],
        "chart_stages": charts.get("chart_stages", ""),
        "chart_heatmap_units": charts.get("chart_heatmap_units", ""),
        "unit_table": charts["unit_table"],
        "top_findings": top_findings,
        "at_stake": at_stake,
        "queue": queue,
        "queue_mine": approval_queue(user).count(),
        "audits": portfolio_reads.audit_rows(user, list(audits), today),
        "audits_page": audits,
        "audits_overdue": portfolio_reads.overdue_count(factories, today),
        "failing": failing,
    }


@policy.page_rule()
def home(request):
    """The landing page: CoE staff's cockpit, or the user's own factories and requests."""
    user = request.user
    context: dict = {"is_staff": policy.allowed(user, "coe.view_cockpit")}
    if context["is_staff"]:
        context.update(_cockpit(request))
        return render(request, "home/cockpit.html", context)
    owned = owned_factory_ids(user)
    member_of = factory_ids(user) - owned
    # Each table a page at a time: an owner of hundreds of factories gets a pager.
    for key, ids, param in (
        ("owned", owned, "owned_page"),
        ("member", member_of, "member_page"),
    ):
        page = Paginator(Factory.objects.filter(pk__in=ids).order_by("name", "pk"), PAGE_SIZE)
        page = page.get_page(request.GET.get(param))
        context[f"{key}_page"] = page
        context[f"{key}_rows"] = factory_rows(user, list(page)) if ids else []
    context["my_requests"] = list(
        requests_visible(user)
        .filter(requester=user)
        .select_related("factory", "tool")
        .order_by("-created_at", "-id")[:MY_REQUESTS]
    )
    context["waiting_count"] = approval_queue(user).count()
    return render(request, "home/home.html", context)
