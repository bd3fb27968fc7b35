"""Reads of tool requests: what a user may see, and each approver's queue."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from coe.choices import Role
from coe.models import Membership
from coe.scoping import is_coe_staff, owned_factory_ids, restrict
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
    staff the owner-approved ones, the approved ones to provision and the submitted ones of
    factories without a business owner. Never their own."""
    condition = Q(status=RequestStatus.SUBMITTED, factory_id__in=owned_factory_ids(user))
    if is_coe_staff(user):
        condition |= Q(status__in=[RequestStatus.OWNER_APPROVED, RequestStatus.APPROVED])
        # A factory without a business owner: CoE staff give the first approval too.
        has_owner = Membership.objects.filter(
            factory_id=OuterRef("factory_id"), role=Role.BUSINESS_OWNER
        )
        condition |= Q(status=RequestStatus.SUBMITTED) & ~Exists(has_owner)
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
