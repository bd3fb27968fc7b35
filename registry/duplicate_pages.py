"""The duplicates page: the findings the user may see, the money at stake and realised, and
the lifecycle forms of each finding.

A page shows 50 findings, each with up to five forms: what the template needs per row (links,
the actions the finding's status allows, the plan's target options) is prepared here once,
so the template prints values instead of resolving URLs and conditions row by row. The
findings' large JSON columns (``detail``, ``baseline``: one entry per adoption covered,
thousands for a portfolio-wide finding) are not read: the page needs only the unresolved
names, and realised savings are added up in the database from the stake rows.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.paginator import Paginator
from django.db.models.fields.json import KeyTransform
from django.shortcuts import render
from django.template.backends.utils import csrf_input

from coe import listing, policy
from coe.prefetch import listed, rows
from coe.reversing import url_by_key
from coe.scoping import writable_factory_ids
from registry.choices import LIVE_FINDING_STATUSES, FindingStatus
from registry.consolidation_views import savings_trend_html
from registry.filtersets import DuplicateFindingFilterSet
from registry.selectors import (
    at_stake_total,
    findings_visible,
    realised_by_finding,
    savings_overview,
)

SORTS = {"savings": "-annual_cost_at_stake", "-savings": "annual_cost_at_stake"}
# The status buttons: (action, label, the statuses that offer it), in the page's order.
ACTIONS = [
    ("acknowledge", "Acknowledge", {"open"}),
    ("consolidate", "Consolidating", {"open", "acknowledged"}),
    ("reopen", "Reopen", {"waived", "resolved", "acknowledged", "consolidating"}),
]
CLOSED = {"waived", "resolved"}


@policy.page_rule()
def duplicates(request):
    """Findings the user may see, the total annual cost at stake, and the lifecycle forms."""
    base = findings_visible(request.user)
    params = request.GET.copy()
    if "status" not in params:
        params.setlist("status", [str(s) for s in (*LIVE_FINDING_STATUSES, FindingStatus.WAIVED)])
    filterset = DuplicateFindingFilterSet(params, queryset=base, request=request)
    sort = request.GET.get("sort", "savings")
    # The references most findings leave empty (waiver approver, plan standard and owner)
    # are prefetched — no query while none is set — not joined: with all six joined the
    # database spent ~30 ms planning the join orders of every page (as the API list).
    findings = (
        filterset.qs.select_related("capability", "scope", "suggested_standard")
        .prefetch_related("waiver_approver", "plan_standard", "plan_owner")
        .order_by(SORTS.get(sort, "-annual_cost_at_stake"), "key")
    )
    if listing.wants_export(request):
        return _export(findings.prefetch_related("tools"))
    findings = (
        findings.defer("detail", "baseline")
        .annotate(unresolved_names=KeyTransform("unresolved", "detail"))
        .prefetch_related(listed("tools"), listed("plan_factories"))
    )
    page = Paginator(findings, 50).get_page(request.GET.get("page"))
    page_rows = finding_rows(list(page))
    # Money is added up in the database from the stake rows detection writes: the total
    # counts each adoption once, however many findings it appears in.
    summary = savings_overview(base, factory_ids=writable_factory_ids(request.user))
    return render(
        request,
        "registry/duplicates.html",
        {
            "page": page,
            "rows": page_rows,
            "filterset": filterset,
            "total": at_stake_total(base),
            "sort": sort,
            "statuses": FindingStatus.choices,
            "default_expiry": dt.date.today() + dt.timedelta(days=180),
            "selected_statuses": params.getlist("status"),
            "export_url": listing.export_url(request),
            "savings": summary,
            "savings_chart": savings_trend_html(summary),
            "csrf_input": csrf_input(request),
        },
    )


def _export(findings):
    return listing.export_csv(
        "findings-shown.csv",
        [
            "id",
            "kind",
            "capability",
            "scope",
            "tools",
            "suggested_standard",
            "annual_cost_at_stake",
            "status",
        ],  # fmt: skip
        findings,
        lambda f: [
            f.pk,
            f.kind,
            f.capability.name if f.capability else "",
            f.scope.slug if f.scope else "",
            ", ".join(t.name for t in f.tools.all()),
            f.suggested_standard.name if f.suggested_standard else "",
            f.annual_cost_at_stake,
            f.status,
        ],
    )


def finding_rows(findings: list) -> list[dict]:
    """One dict per finding: the finding, its tools as (URL, name), the realised savings,
    the plan's progress and its forms (action URLs, whether plan and waiver forms show,
    the target-standard options as (slug, name, selected))."""
    from registry.consolidation import plan_progress

    savings, progress = realised_by_finding([f.pk for f in findings]), plan_progress(findings)
    action_url, plan_url = url_by_key("duplicate-action"), url_by_key("duplicate-plan")
    tool_urls: dict[int, str] = {}
    out = []
    for f in findings:
        tools = rows(f, "tools")
        for t in tools:
            if t.pk not in tool_urls:
                tool_urls[t.pk] = t.get_absolute_url()
        live = f.status not in CLOSED
        options = [(t.slug, t.name, t.pk == f.suggested_standard_id) for t in tools]
        standard = f.suggested_standard
        if standard is not None and standard.pk not in {t.pk for t in tools}:
            options.append((standard.slug, standard.name, True))
        out.append(
            {
                "f": f,
                "tools": [(tool_urls[t.pk], t.name) for t in tools],
                "realised": savings.get(f.pk, Decimal("0")),
                "progress": progress.get(f.pk),
                "actions": [
                    (action_url(f.pk, action), label)
                    for action, label, statuses in ACTIONS
                    if f.status in statuses
                ],
                "plan_url": plan_url(f.pk) if live and f.kind != "same_tool" else "",
                "standards": options,
                "waive_url": action_url(f.pk, "waive") if live else "",
            }
        )
    return out
