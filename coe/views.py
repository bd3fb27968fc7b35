"""Core pages: the factory list and the factory page, sign-in lockouts, the health check."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from coe import listing, policy
from coe.choices import Role
from coe.filtersets import FactoryFilterSet
from coe.models import Membership
from coe.pages import factory_panels
from coe.scoping import visible_factories
from coe.signin import locked_attempts, lockout_expires_at, lockout_lift


def _member_count():
    members = (
        Membership.objects.filter(factory=OuterRef("pk"), role=Role.MEMBER)
        .order_by()
        .values("factory")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(members, output_field=IntegerField()), 0)


def _factories_for(user):
    owners = Membership.objects.filter(role=Role.BUSINESS_OWNER).select_related("user")
    return (
        visible_factories(user)
        # Counted per row by a subquery, not by joining every membership of every factory
        # and grouping: the pager's count then leaves it out, and only the page's rows are
        # counted.
        .annotate(member_count=_member_count())
        .prefetch_related(Prefetch("memberships", queryset=owners, to_attr="owner_memberships"))
    )


FACTORY_SORTS = {
    "name": "name",
    "kind": "kind",
    "business_unit": ("business_unit", "name"),
    "site": "site",
    "members": "member_count",
}
FACTORY_COLUMNS = [
    ("Factory", "name"),
    ("Kind", "kind"),
    ("Business unit", "business_unit"),
    ("Site", "site"),
    ("Business owners", None),
    ("Members", "members"),
]


@policy.page_rule()
def factory_list(request):
    """The factories the user may see: filterable, sortable, paginated, exportable."""
    filterset = FactoryFilterSet(
        request.GET, queryset=_factories_for(request.user), request=request
    )
    rows, current = listing.apply_sort(
        request, filterset.qs, FACTORY_SORTS, default=("business_unit", "name")
    )
    if listing.wants_export(request):
        return listing.export_csv(
            "factories.csv",
            ["slug", "name", "kind", "business_unit", "site", "region", "owners", "members"],
            rows,
            lambda f: [
                f.slug,
                f.name,
                f.kind,
                f.business_unit,
                f.site,
                f.region,
                ", ".join(m.user.username for m in f.owner_memberships),
                f.member_count,
            ],
        )
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    # The units, not one row per factory: the model's default order (by name) would join
    # the DISTINCT and return every factory.
    units = (
        visible_factories(request.user)
        .order_by("business_unit")
        .values_list("business_unit", flat=True)
        .distinct()
    )
    headers = listing.sort_headers(request, FACTORY_COLUMNS, current)
    return render(
        request,
        "coe/factory_list.html",
        {
            "filterset": filterset,
            "page": page,
            "business_units": sorted(set(units)),
            "headers": headers,
            "export_url": listing.export_url(request),
        },
    )


def _factory_of_page(request, slug: str):
    return get_object_or_404(_factories_for(request.user), slug=slug)


@policy.page_rule(obj=_factory_of_page)
def factory_detail(request, slug: str, obj):
    """One factory: who runs it, and every panel the apps contribute."""
    factory = obj
    memberships = factory.memberships.select_related("user").order_by("role", "user__username")
    return render(
        request,
        "coe/factory_detail.html",
        {
            "factory": factory,
            "memberships": memberships,
            "panels": factory_panels(request, factory),
        },
    )


@policy.page_rule()
def lockout_list(request):
    """CoE staff: the usernames and addresses locked out after failed sign-ins, to unlock."""
    rows = [(a, lockout_expires_at(a)) for a in locked_attempts()[:500]]
    return render(request, "coe/lockouts.html", {"rows": rows})


@require_POST
@policy.page_rule()
def lockout_unlock(request, pk: int):
    """CoE staff: lift one lockout (the username and address may sign in again)."""
    attempt = get_object_or_404(locked_attempts(), pk=pk)
    lockout_lift(attempt=attempt, by=request.user)
    messages.success(
        request, f"Unlocked {attempt.username or 'unknown user'} from {attempt.ip_address}."
    )
    return redirect("lockout-list")


def health(request):
    """Liveness and readiness: the database answers; a broker, when configured, answers.

    Anonymous callers (load balancers, monitors) learn only ``ok`` or ``degraded`` and the
    status code; what failed and how is for CoE staff.
    """
    checks: dict[str, str] = {}
    status = 200
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # reported, not raised
        checks["database"] = f"error: {exc.__class__.__name__}"
        status = 503
    if settings.CELERY_BROKER_URL:
        from coe.celery import app

        try:
            with app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = f"error: {exc.__class__.__name__}"
            status = 503
    else:
        checks["broker"] = "eager (no broker configured)"
    if request.GET.get("worker") and status == 200:
        checks["worker"], worker_ok = _probe_worker()
        status = 200 if worker_ok else 503
    overall = "ok" if status == 200 else "degraded"
    if not policy.allowed(request.user, "coe.view_health_details"):
        return JsonResponse({"status": overall}, status=status)
    return JsonResponse({"status": overall, **checks}, status=status)


def _probe_worker(timeout: float = 5.0) -> tuple[str, bool]:
    """Send a probe task and wait for a worker's answer."""
    from coe.tasks import probe_worker_task

    try:
        answer = probe_worker_task.apply_async().get(timeout=timeout)
    except Exception as exc:  # a missing worker is a finding, not a crash
        return f"error: no worker answered ({exc.__class__.__name__})", False
    return f"ok ({answer['hostname']}, {answer['factories']} factories)", True
