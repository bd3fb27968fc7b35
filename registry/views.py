"""Pages of the registry: tools, tool detail, tech radar, duplicates, unresolved names,
imports and exports, and the factory-page panel."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.db.models import Count, DecimalField, F, OuterRef, Prefetch, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from coe import listing, policy
from coe.choices import FactoryKind
from coe.prefetch import listed
from coe.scoping import restrict
from coe.tables import TableTooLarge
from registry import exports, services
from registry.charts import number_blips, radar_html
from registry.choices import LIVE_FINDING_STATUSES, AdoptionStatus, Ring
from registry.filtersets import ToolFilterSet
from registry.importers import ImportRejected, import_adoptions, import_registry, read_file
from registry.models import (
    Adoption,
    Capability,
    DuplicateFinding,
    Process,
    ProcessAdoption,
    ProcessVersion,
    RingChange,
    Tool,
)
from registry.selectors import cost_now, findings_visible, unresolved_names

TOOL_SORTS = {
    "name": "name",
    "vendor": ("vendor", "name"),
    "ring": ("ring", "name"),
    "cost": "annual_cost_per_seat",
    "adopters": "adopters",
    "spend": "spend",
}
TOOL_COLUMNS = [
    ("Tool", "name"),
    ("Vendor", "vendor"),
    ("Ring", "ring"),
    ("Capabilities", None),
    ("Cost / seat", "cost"),
    ("Adopters", "adopters"),
    ("Annual spend", "spend"),
]


def _finding_name(finding: DuplicateFinding) -> str:
    """A finding as people name it: its kind and the tools involved."""
    tools = ", ".join(sorted(t.name for t in finding.tools.all()))
    return f"{finding.get_kind_display()} ({tools})" if tools else finding.get_kind_display()


@policy.page_rule()
def tool_list(request):
    """The registry: tools with ring, capabilities, adopters and spend (of visible factories)."""
    tools = Tool.objects.prefetch_related(listed("capabilities"))
    if policy.allowed(request.user, "registry.view_portfolio_figures"):
        # The whole portfolio: the figures stored on the tool (registry.figures).
        tools = tools.annotate(adopters=F("adopter_count"), spend=F("annual_spend"))
    else:
        # The caller's factories only: per tool, a subquery over its visible adoptions
        # (index-driven), not a join of every adoption of the portfolio grouped by tool.
        visible = (
            restrict(Adoption.objects.filter(status="active"), request.user)
            .filter(tool=OuterRef("pk"))
            .order_by()
            .values("tool")
        )
        # The same figure as the tool page: each active adoption's effective annual cost.
        money = DecimalField(max_digits=16, decimal_places=2)
        tools = tools.annotate(
            adopters=Coalesce(Subquery(visible.annotate(n=Count("pk")).values("n")), 0),
            spend=Subquery(visible.annotate(s=Sum(cost_now())).values("s"), output_field=money),
        )
    filterset = ToolFilterSet(request.GET, queryset=tools, request=request)
    rows, current = listing.apply_sort(request, filterset.qs, TOOL_SORTS, default=("name",))
    if listing.wants_export(request):
        return listing.export_csv(
            "tools-shown.csv",
            ["slug", "name", "vendor", "ring", "capabilities", "cost_per_seat", "adopters"],
            rows,
            lambda t: [
                t.slug,
                t.name,
                t.vendor,
                t.ring,
                ", ".join(c.name for c in t.capabilities_listed),
                t.annual_cost_per_seat,
                t.adopters,
            ],
        )
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "registry/tool_list.html",
        {
            "filterset": filterset,
            "page": page,
            "headers": listing.sort_headers(request, TOOL_COLUMNS, current),
            "export_url": listing.export_url(request),
            "rings": Ring.choices,
            "capabilities": Capability.objects.filter(parent__isnull=False).order_by("name"),
        },
    )


@policy.page_rule()
def tool_detail(request, slug: str):
    """One tool: ring and its history, aliases, adopters (of visible factories), cost."""
    tool = get_object_or_404(
        Tool.objects.select_related("owner").prefetch_related(
            "capabilities",
            "aliases",
            "ring_overrides",
            Prefetch("ring_changes", queryset=RingChange.objects.select_related("changed_by")),
        ),
        slug=slug,
    )
    adoptions = list(
        restrict(tool.adoptions.select_related("factory"), request.user).order_by("factory__name")
    )
    for adoption in adoptions:
        adoption.tool = tool
    # Annual spend counts active adoptions only, as the registry list does.
    active = [a for a in adoptions if a.status == AdoptionStatus.ACTIVE]
    total = sum((a.effective_annual_cost for a in active), Decimal("0"))
    currencies = {a.factory.currency for a in active}
    return render(
        request,
        "registry/tool_detail.html",
        {
            "tool": tool,
            "adoptions": adoptions,
            "total_cost": total,
            "currency": currencies.pop() if len(currencies) == 1 else "",
            "seats": sum(a.seats or 0 for a in adoptions),
            "rings": Ring.choices,
            "kinds": FactoryKind.choices,
        },
    )


@require_POST
@policy.page_rule()
def tool_set_ring(request, slug: str):
    """CoE staff move a tool to another ring, with a reason."""
    tool = get_object_or_404(Tool, slug=slug)
    reason = request.POST.get("reason", "").strip()
    if not reason:
        messages.error(request, "A ring change needs a reason.")
    else:
        try:
            change = services.tool_set_ring(
                tool=tool,
                ring=request.POST.get("ring", ""),
                reason=reason,
                actor=request.user,
                factory_kind=request.POST.get("factory_kind", ""),
            )
            if change is None:
                messages.info(request, f"{tool.name} already is in {tool.get_ring_display()}.")
            else:
                messages.success(
                    request, f"Moved {tool.name} from {change.from_ring} to {change.to_ring}."
                )
        except DjangoValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
    return redirect(tool.get_absolute_url())


def _group_of(capability: Capability | None, by_id: dict[int, Capability]) -> str:
    while capability is not None and capability.parent_id:
        capability = by_id.get(capability.parent_id)
    return capability.name if capability else "Uncategorised"


@policy.page_rule()
def tech_radar(request):
    """Rings × capability groups; ``?kind=`` applies the per-kind ring overrides and keeps
    the tools of capabilities that apply to that kind."""
    kind = request.GET.get("kind", "")
    kind = kind if kind in FactoryKind.values else ""
    capabilities = {c.pk: c for c in Capability.objects.all()}
    tools = Tool.objects.prefetch_related("capabilities", "ring_overrides").order_by("name")
    rows = []
    for tool in tools:
        ring = tool.ring
        for override in tool.ring_overrides.all():
            if override.factory_kind == kind:
                ring = override.ring
        caps = list(tool.capabilities.all())
        if kind:
            caps = [c for c in caps if c.applies_to in ("both", kind)]
            if not caps:
                continue
        group = _group_of(caps[0] if caps else None, capabilities)
        rows.append({"name": tool.name, "ring": ring, "group": group, "slug": tool.slug})
    return render(
        request,
        "registry/radar.html",
        {
            "quadrants": number_blips(rows),
            "chart": radar_html(rows),
            "rows": rows,
            "kind": kind,
            "kinds": FactoryKind.choices,
            "rings": [r for r in Ring.choices if r[0] != Ring.RETIRED],
        },
    )


def _visible_finding(request, pk: int, **_kwargs) -> DuplicateFinding:
    return get_object_or_404(findings_visible(request.user), pk=pk)


@require_POST
@policy.page_rule(obj=_visible_finding)
def finding_action(request, pk: int, action: str, obj):
    """acknowledge / consolidate / resolve / reopen / waive a finding (CoE staff); a
    finding outside the user's factories is a 404, whether it exists or not."""
    finding = obj
    try:
        if action == "waive":
            expires = request.POST.get("expires_on") or ""
            services.finding_waive(
                finding=finding,
                reason=request.POST.get("reason", ""),
                approver=request.user,
                expires_on=dt.date.fromisoformat(expires) if expires else None,
            )
        elif action in ("acknowledge", "consolidate", "resolve", "reopen"):
            services.finding_transition(
                finding=finding, action=action, note=request.POST.get("comment", "")
            )
        else:
            raise Http404(action)
        messages.success(
            request, f"{_finding_name(finding)}: {finding.get_status_display().lower()}."
        )
    except (DjangoValidationError, ValueError) as exc:
        text = "; ".join(getattr(exc, "messages", [str(exc)]))
        messages.error(request, f"{_finding_name(finding)}: {text}")
    return redirect(request.POST.get("next") or "duplicate-list")


@policy.page_rule()
def unresolved(request):
    """The unresolved-names queue; CoE staff map a name to a tool (it becomes an alias)."""
    if request.method == "POST":
        tool = Tool.objects.filter(slug=request.POST.get("tool", "")).first()
        name = request.POST.get("declared_name", "").strip()
        if tool is None or not name:
            messages.error(request, "Choose a tool for the name.")
        else:
            try:
                count = services.adoption_map_name(
                    declared_name=name, tool=tool, actor=request.user
                )
                messages.success(request, f"'{name}' → {tool.name}: {count} adoption(s) resolved.")
            except DjangoValidationError as exc:
                messages.error(request, "; ".join(exc.messages))
        return redirect("registry-unresolved")
    rows = unresolved_names(restrict(Adoption.objects.all(), request.user))
    return render(
        request,
        "registry/unresolved.html",
        {
            "rows": rows,
            "tools": Tool.objects.order_by("name").values_list("slug", "name"),
        },
    )


@policy.page_rule()
def process_list(request):
    """The reusable processes: each version's steps (rendered safely) and its adopters
    among the factories the user may see."""
    adoptions = restrict(ProcessAdoption.objects.select_related("factory"), request.user)
    versions = ProcessVersion.objects.prefetch_related(Prefetch("adoptions", queryset=adoptions))
    processes = Process.objects.select_related("capability", "owner_factory").prefetch_related(
        Prefetch("versions", queryset=versions)
    )
    return render(request, "registry/process_list.html", {"processes": processes})


@policy.page_rule()
def import_upload(request):
    """Upload tools or adoptions (CSV/XLSX); a bad file is rejected whole with its errors."""
    errors, summary, status = [], None, 200
    if request.method == "POST":
        upload = request.FILES.get("file")
        kind = request.POST.get("kind")
        if upload is None or kind not in ("registry", "adoptions"):
            errors = ["Choose what to import and a file."]
        else:
            try:
                table = read_file(upload, upload.name)
                if kind == "registry":
                    summary = import_registry(table, actor=request.user)
                else:
                    summary = import_adoptions(table)
            except TableTooLarge as exc:
                errors, status = [f"row 1: file: {exc}"], 413
            except ImportRejected as exc:
                errors = exc.errors
    return render(
        request,
        "registry/import.html",
        {"errors": errors, "summary": summary.lines() if summary else None},
        status=status,
    )


@policy.page_rule()
def export(request, what: str, fmt: str):
    """Tools, adoptions or findings as CSV or XLSX (rows the user may see)."""
    if fmt not in ("csv", "xlsx"):
        raise Http404(fmt)
    if what == "tools":
        frame = exports.tools_frame(Tool.objects.order_by("name"))
    elif what == "adoptions":
        frame = exports.adoptions_frame(
            restrict(Adoption.objects.all(), request.user).order_by(
                "factory__slug", "declared_name"
            )
        )
    elif what == "findings":
        frame = exports.findings_frame(findings_visible(request.user).order_by("key"))
    else:
        raise Http404(what)
    return exports.response(frame, what, fmt)


def factory_panel_context(request, factory) -> dict | None:
    """The factory page's registry panel: its adoptions and its open findings."""
    adoptions = list(
        factory.adoptions.filter(status="active").select_related("tool").order_by("declared_name")
    )
    # The findings scoped to the factory or listing it: an index-driven subquery over the
    # finding-factory links (no join and DISTINCT over every finding's factories).
    linked = DuplicateFinding.factories.through.objects.filter(factory=factory)
    findings = list(
        findings_visible(request.user)
        .filter(
            Q(scope=factory) | Q(pk__in=linked.values("duplicatefinding_id")),
            status__in=LIVE_FINDING_STATUSES,
        )
        .select_related("capability", "suggested_standard")
        .prefetch_related(listed("tools"))
        # Not shown, and thousands of entries for a portfolio-wide finding.
        .defer("detail", "baseline")
        .order_by("-annual_cost_at_stake", "pk")
    )
    return {
        "factory": factory,
        "adoptions": adoptions,
        "spend": sum((a.effective_annual_cost for a in adoptions), Decimal("0")),
        "findings": findings,
    }
