"""Reads of tool requests: what a user may see, and each approver's queue."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from coe import policy
from coe.choices import Role
from coe.models import Membership
from coe.scoping import owned_factory_ids, restrict
from tool_requests.choices import RequestStatus
from tool_requests.models import RequestComment, RequestTransition, ToolRequest


def requests_visible(user) -> QuerySet[ToolRequest]:
    """Requests of the user's factories (members and owners); all of them for CoE staff."""
    return restrict(ToolRequest.objects.all(), user)


def with_details(queryset: QuerySet[ToolRequest]) -> QuerySet[ToolRequest]:
    """Everything a list or a detail shows, in a constant number of queries."""
    return queryset.select_related(
        "factory", "requester", "tool", "capability", "owner_approver", "coe_approver"
    ).prefetch_related(
        Prefetch("transitions", queryset=RequestTransition.objects.select_related("actor"))
    )


def approval_queue(user) -> QuerySet[ToolRequest]:
    """What waits for ``user``: submitted requests of the factories they own, and for CoE
    staff the owner-approved ones (but those they gave the owner step of), the approved
    ones to provision and the submitted ones no business owner but the requester could
    approve (a factory without owners, or a request of its only owner). Never their own.

    The same rules as ``tool_requests.approve_owner_step`` / ``approve_coe_step`` in
    ``coe/policy.py``, as one query."""
    condition = Q(status=RequestStatus.SUBMITTED, factory_id__in=owned_factory_ids(user))
    if policy.allowed(user, "tool_requests.provision_request"):  # CoE staff
        condition |= Q(status=RequestStatus.OWNER_APPROVED) & ~Q(owner_approver=user)
        condition |= Q(status=RequestStatus.APPROVED)
        other_owner = Membership.objects.filter(
            factory_id=OuterRef("factory_id"), role=Role.BUSINESS_OWNER
        ).exclude(user_id=OuterRef("requester_id"))
        condition |= Q(status=RequestStatus.SUBMITTED) & ~Exists(other_owner)
    return (
        requests_visible(user)
        .filter(condition)
        .exclude(requester=user)
        .order_by("submitted_at", "id")
    )


def comment_threads(tool_request: ToolRequest) -> list[RequestComment]:
    """Top comments, each with ``thread`` (its replies, oldest first); two queries at most."""
    comments = list(tool_request.comments.select_related("author").order_by("created_at", "id"))
    top = [c for c in comments if c.parent_id is None]
    by_parent: dict[int, list[RequestComment]] = {}
    for comment in comments:
        if comment.parent_id:
            by_parent.setdefault(comment.parent_id, []).append(comment)
    for comment in top:
        comment.thread = by_parent.get(comment.pk, [])
    return top
