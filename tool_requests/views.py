"""Pages of tool requests: my requests, the approval queue, the request form with its
live policy preview, and the request detail with history, comments and actions."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from coe import listing, policy
from coe.scoping import visible_factories
from registry.models import Capability, Tool
from tool_requests import services as request_services
from tool_requests.checks import is_blocked_by_ring, request_checks, setting_days
from tool_requests.choices import RequestStatus
from tool_requests.filtersets import ToolRequestFilterSet
from tool_requests.models import RequestComment
from tool_requests.selectors import (
    approval_queue,
    comment_threads,
    requests_visible,
    with_details,
)

VIEWS = {"queue": "Waiting for me", "mine": "My requests", "all": "All visible requests"}
REQUEST_SORTS = {
    "id": "id",
    "tool": ("tool__name", "proposed_name"),
    "factory": "factory__name",
    "requester": "requester__username",
    "status": "status",
    "cost": "estimated_annual_cost",
    "submitted": "submitted_at",
}
REQUEST_COLUMNS = [
    ("#", "id"),
    ("Tool", "tool"),
    ("Factory", "factory"),
    ("Requester", "requester"),
    ("Status", "status"),
    ("Checks", None),
    ("Annual cost", "cost"),
    ("Submitted", "submitted"),
    ("Due", None),
]


class ToolRequestForm(forms.Form):
    """The request form: a registry tool, or a proposed new tool with its capability."""

    factory = forms.ModelChoiceField(queryset=None, to_field_name="slug")
    tool = forms.ModelChoiceField(
        queryset=Tool.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        empty_label="— a new tool (describe it below) —",
        help_text="A tool of the registry.",
    )
    proposed_name = forms.CharField(max_length=200, required=False, label="New tool: name")
    proposed_vendor = forms.CharField(max_length=200, required=False, label="New tool: vendor")
    proposed_homepage = forms.URLField(
        max_length=500, required=False, label="New tool: homepage", assume_scheme="https"
    )
    capability = forms.ModelChoiceField(
        queryset=Capability.objects.filter(parent__isnull=False).order_by("name"),
        to_field_name="slug",
        required=False,
        help_text="What the tool is for (required for a new tool).",
    )
    justification = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}))
    seats = forms.IntegerField(min_value=0, required=False)
    estimated_annual_cost = forms.DecimalField(
        min_value=0, max_digits=14, decimal_places=2, required=False
    )
    needed_by = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        # The factories the user may ask for: their own (all of them for CoE staff).
        factories = visible_factories(user)
        self.fields["factory"].queryset = factories.order_by("name")
        if factories.count() == 1:
            self.fields["factory"].initial = factories.first()


@policy.page_rule()
def request_list(request):
    """My requests, my approval queue, or every request I may see (filterable)."""
    queue_count = approval_queue(request.user).count()
    view = request.GET.get("view") or ("queue" if queue_count else "mine")
    if view not in VIEWS:
        view = "mine"
    if view == "queue":
        base = approval_queue(request.user)
    elif view == "mine":
        base = requests_visible(request.user).filter(requester=request.user)
    else:
        base = requests_visible(request.user)
    filterset = ToolRequestFilterSet(request.GET, queryset=with_details(base))
    default = ("submitted_at", "id") if view == "queue" else ("-created_at", "-id")
    rows, current = listing.apply_sort(request, filterset.qs, REQUEST_SORTS, default=default)
    if listing.wants_export(request):
        return listing.export_csv(
            "requests-shown.csv",
            ["id", "tool", "factory", "requester", "status", "annual_cost", "currency", "due_on"],
            rows,
            lambda r: [
                r.pk,
                r.tool_name,
                r.factory.name,
                r.requester.username,
                r.get_status_display(),
                r.estimated_annual_cost,
                r.factory.currency,
                r.current_due_on or "",
            ],
        )
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "tool_requests/list.html",
        {
            "view": view,
            "views": VIEWS,
            "page": page,
            "statuses": RequestStatus.choices,
            "queue_count": queue_count,
            "factories": visible_factories(request.user).order_by("name"),
            "headers": listing.sort_headers(request, REQUEST_COLUMNS, current),
            "export_url": listing.export_url(request),
        },
    )


@policy.page_rule()
def request_create(request):
    """The request form; the policy checks update live while it is filled in."""
    form = ToolRequestForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            tool_request = request_services.tool_request_create(requester=request.user, **data)
            if "submit" in request.POST:
                request_services.tool_request_transition(
                    tool_request=tool_request, action="submit", actor=request.user
                )
                messages.success(
                    request,
                    f"Request #{tool_request.pk} for {tool_request.tool_name} "
                    f"({tool_request.factory.name}) submitted; the business owner is notified.",
                )
            else:
                messages.success(
                    request,
                    f"Draft request #{tool_request.pk} for {tool_request.tool_name} "
                    f"({tool_request.factory.name}) saved.",
                )
            return redirect(tool_request.get_absolute_url())
        except DjangoValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
    return render(request, "tool_requests/form.html", {"form": form})


def _get_visible(request, pk: int, **_kwargs):
    """The request among those the user may see (404 otherwise)."""
    return get_object_or_404(with_details(requests_visible(request.user)), pk=pk)


@policy.page_rule(obj=_get_visible)
def request_detail(request, pk: int, obj):
    """One request: facts, checks, history, comment threads and the buttons the user may use."""
    tool_request = obj
    actions = request_services.allowed_actions(tool_request, request.user)
    live_checks = tool_request.checks
    if tool_request.status in (RequestStatus.DRAFT, RequestStatus.OWNER_APPROVED):
        live_checks = request_checks(tool_request)
    return render(
        request,
        "tool_requests/detail.html",
        {
            "req": tool_request,
            "checks": live_checks,
            "actions": actions,
            "needs_exception": tool_request.status == RequestStatus.OWNER_APPROVED
            and is_blocked_by_ring(live_checks),
            "exception_max_days": setting_days("TOOL_REQUEST_EXCEPTION_MAX_DAYS"),
            "threads": comment_threads(tool_request),
            "history": list(tool_request.transitions.all()),
        },
    )


@require_POST
@policy.page_rule(obj=_get_visible)
def request_action(request, pk: int, action: str, obj):
    """submit / approve / reject / withdraw / provision from the detail page (the step's
    rule is the service's to ask)."""
    tool_request = obj
    try:
        request_services.tool_request_transition(
            tool_request=tool_request,
            action=action,
            actor=request.user,
            comment=request.POST.get("comment", ""),
            exception_expires_on=forms.DateField(required=False).clean(
                request.POST.get("exception_expires_on") or None
            ),
        )
        tool_request.refresh_from_db(fields=["status"])
        messages.success(
            request,
            f"Request #{tool_request.pk} for {tool_request.tool_name} "
            f"({tool_request.factory.name}): {tool_request.get_status_display().lower()}.",
        )
    except request_services.TransitionConflict as exc:
        messages.error(request, str(exc))
    except PermissionDenied as exc:
        messages.error(request, str(exc) or "You may not do this.")
    except DjangoValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(tool_request.get_absolute_url())


@require_POST
@policy.page_rule(obj=_get_visible)
def request_comment(request, pk: int, obj):
    """Add a comment, or a reply to one."""
    tool_request = obj
    parent_id = request.POST.get("parent") or None
    parent = (
        get_object_or_404(RequestComment, pk=parent_id, request=tool_request) if parent_id else None
    )
    try:
        request_services.request_comment_add(
            tool_request=tool_request,
            author=request.user,
            body=request.POST.get("body", ""),
            parent=parent,
        )
    except DjangoValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(f"{tool_request.get_absolute_url()}#comments")


def waiting_count(request) -> int:
    """How many requests wait for the signed-in user (the navigation's badge)."""
    return approval_queue(request.user).count()


def request_panel_context(request, factory) -> dict | None:
    """The factory page's "Tool requests" panel: its open requests and the latest decisions
    (hidden from people who cannot see the factory's requests)."""
    visible = requests_visible(request.user).filter(factory=factory)
    rows = list(visible.select_related("tool", "requester").order_by("-created_at", "-id")[:10])
    return {
        "factory": factory,
        "requests": rows,
        "can_request": request_services.can_request_for(request.user, factory),
        "waiting": approval_queue(request.user).filter(factory=factory).count(),
    }
