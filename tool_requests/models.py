"""Tool requests: a factory asks for a registry tool (or proposes a new one); policy
checks and a two-step approval decide; a provisioned request becomes an adoption.

The tables keep the names they had when the models lived in ``registry``
(``registry_toolrequest``…): the move between apps changed Django's state, not the data.
"""

from __future__ import annotations

from auditlog.registry import auditlog
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from coe.models import Factory
from registry.models import Adoption, Capability, Tool
from tool_requests.choices import Capacity, RequestStatus


class ToolRequestQuerySet(models.QuerySet):
    def overdue(self, today=None) -> ToolRequestQuerySet:
        """Requests whose current step is past its due date."""
        today = today or timezone.localdate()
        return self.filter(overdue_condition(today))

    def not_overdue(self, today=None) -> ToolRequestQuerySet:
        today = today or timezone.localdate()
        return self.exclude(overdue_condition(today))


def overdue_condition(today) -> Q:
    """The step due date that matters depends on the status (one per open step)."""
    return (
        Q(status=RequestStatus.SUBMITTED, owner_due_on__lt=today)
        | Q(status=RequestStatus.OWNER_APPROVED, coe_due_on__lt=today)
        | Q(status=RequestStatus.APPROVED, provision_due_on__lt=today)
    )


class ToolRequest(models.Model):
    """A factory asks for a tool: a registry tool, or a proposed new one (name, vendor,
    homepage, capability). Checks are stored on submit; each open step has a due date."""

    factory = models.ForeignKey(Factory, on_delete=models.CASCADE, related_name="tool_requests")
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tool_requests"
    )
    tool = models.ForeignKey(
        Tool,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="requests",
        help_text="The registry tool asked for; empty for a proposed new tool.",
    )
    proposed_name = models.CharField(max_length=200, blank=True)
    proposed_vendor = models.CharField(max_length=200, blank=True)
    proposed_homepage = models.URLField(max_length=500, blank=True)
    capability = models.ForeignKey(
        Capability,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tool_requests",
        help_text="What the tool is for (required for a proposed tool).",
    )
    justification = models.TextField()
    seats = models.PositiveIntegerField(null=True, blank=True)
    estimated_annual_cost = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True
    )
    needed_by = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=RequestStatus.choices, default=RequestStatus.DRAFT, db_index=True
    )
    checks = models.JSONField(
        default=list, blank=True, help_text="[{check, result, message}] as of the last step."
    )
    fast_track = models.BooleanField(
        default=False, help_text="Adopt ring, no duplicate, under the threshold: no CoE step."
    )
    exception_expires_on = models.DateField(
        null=True, blank=True, help_text="An approval of a hold-ring tool is an exception."
    )
    owner_due_on = models.DateField(null=True, blank=True)
    coe_due_on = models.DateField(null=True, blank=True)
    provision_due_on = models.DateField(null=True, blank=True)
    last_reminded_on = models.DateField(
        null=True, blank=True, help_text="Last overdue reminder (at most one a day)."
    )
    owner_approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    coe_approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    adoption = models.ForeignKey(
        Adoption, null=True, blank=True, on_delete=models.SET_NULL, related_name="requests"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    objects = ToolRequestQuerySet.as_manager()

    class Meta:
        db_table = "registry_toolrequest"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["factory", "status"], name="toolrequest_factory_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(tool__isnull=False) | ~Q(proposed_name=""),
                name="toolrequest_names_a_tool",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.tool_name} for {self.factory}"

    def get_absolute_url(self) -> str:
        return reverse("request-detail", kwargs={"pk": self.pk})

    @property
    def tool_name(self) -> str:
        return self.tool.name if self.tool_id else self.proposed_name

    @property
    def is_new_tool(self) -> bool:
        return self.tool_id is None

    @property
    def current_due_on(self):
        """The due date of the step the request waits in (None when nobody has to act)."""
        return {
            RequestStatus.SUBMITTED: self.owner_due_on,
            RequestStatus.OWNER_APPROVED: self.coe_due_on,
            RequestStatus.APPROVED: self.provision_due_on,
        }.get(self.status)

    @property
    def overdue(self) -> bool:
        due = self.current_due_on
        return due is not None and due < timezone.localdate()

    @property
    def exception_expired(self) -> bool:
        """An exception past its expiry date: the CoE should move the factory off the tool."""
        return bool(self.exception_expires_on and self.exception_expires_on < timezone.localdate())

    @property
    def worst_result(self) -> str:
        results = {c.get("result") for c in self.checks or []}
        for result in ("block", "warn"):
            if result in results:
                return result
        return "pass" if results else ""


class RequestTransition(models.Model):
    """One move of a request between statuses: who, in which capacity, when, from, to and
    why."""

    request = models.ForeignKey(ToolRequest, on_delete=models.CASCADE, related_name="transitions")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    capacity = models.CharField(
        max_length=20,
        choices=Capacity.choices,
        blank=True,
        help_text="The role the actor took the step in (a CoE staff member may stand in for "
        "a business owner).",
    )
    action = models.CharField(max_length=20)
    from_status = models.CharField(max_length=20, choices=RequestStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=RequestStatus.choices)
    comment = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "registry_requesttransition"
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"#{self.request_id}: {self.from_status or '—'} → {self.to_status}"


class RequestComment(models.Model):
    """A comment on a request; ``parent`` makes a reply (one thread per top comment)."""

    request = models.ForeignKey(ToolRequest, on_delete=models.CASCADE, related_name="comments")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "registry_requestcomment"
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Comment on #{self.request_id} by {self.author}"


auditlog.register(ToolRequest, exclude_fields=["updated_at"])
auditlog.register(RequestTransition)
auditlog.register(RequestComment)
