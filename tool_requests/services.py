"""Writes of tool requests: create, edit a draft, the transitions, comments.

Transitions (who may do what, from which status; each "who" is a rule of ``coe/policy.py``):

================  ==========================  =============================================
action            from                        who (rule)
================  ==========================  =============================================
submit            draft                       the requester (``submit_request``)
approve           submitted                   a business owner of the factory, not the
                                              requester; CoE staff when no other business
                                              owner can (none, or the requester is the only
                                              one) (``approve_owner_step``)
approve           owner_approved              CoE staff, not the requester, not the owner
                                              approver (``approve_coe_step``)
reject            submitted / owner_approved  whoever may approve that step; a comment is
                                              required
withdraw          draft … approved            the requester (``withdraw_request``)
provision         approved                    CoE staff (``provision_request``); the checks
                                              run again and a block without a valid
                                              exception refuses; creates the adoption
                                              (source = request)
================  ==========================  =============================================

Every transition records who took it and in which capacity (requester, business owner, CoE
staff). A wrong status is a :class:`TransitionConflict` (HTTP 409), a wrong person a
``PermissionDenied`` (403), missing input a ``ValidationError`` (400). Every transition
locks the row (``select_for_update``) and moves the status with a compare-and-swap
``update()``, so two people acting at once give one result and at most one adoption.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from coe import policy
from coe.changelog import log_bulk
from registry import services
from registry.choices import AdoptionSource, Ring
from registry.models import Capability, RingChange, Tool
from tool_requests.checks import (
    blocking_checks,
    fast_track_enabled,
    is_blocked_by_ring,
    qualifies_for_fast_track,
    request_checks,
    resolve_proposed,
    setting_days,
)
from tool_requests.choices import Capacity, RequestAction, RequestStatus
from tool_requests.events import emit_request_transition
from tool_requests.models import RequestComment, RequestTransition, ToolRequest
from tool_requests.notifications import notify_transition, unsafe_header_text

S = RequestStatus
EDITABLE_FIELDS = (
    "tool",
    "proposed_name",
    "proposed_vendor",
    "proposed_homepage",
    "capability",
    "justification",
    "seats",
    "estimated_annual_cost",
    "needed_by",
)


class TransitionConflict(Exception):
    """The request is not in a status that allows the action (HTTP 409)."""


@dataclass(frozen=True)
class Step:
    """One allowed (status, action) pair and the policy rule the actor must pass."""

    action: str
    from_status: str
    rule: str

    @property
    def who(self) -> str:  # requester | owner | coe
        return {
            "tool_requests.submit_request": "requester",
            "tool_requests.withdraw_request": "requester",
            "tool_requests.approve_owner_step": "owner",
        }.get(self.rule, "coe")


_OWNER = "tool_requests.approve_owner_step"
_COE = "tool_requests.approve_coe_step"
STEPS = [
    Step(RequestAction.SUBMIT, S.DRAFT, "tool_requests.submit_request"),
    Step(RequestAction.APPROVE, S.SUBMITTED, _OWNER),
    Step(RequestAction.APPROVE, S.OWNER_APPROVED, _COE),
    Step(RequestAction.REJECT, S.SUBMITTED, _OWNER),
    Step(RequestAction.REJECT, S.OWNER_APPROVED, _COE),
    Step(RequestAction.WITHDRAW, S.DRAFT, "tool_requests.withdraw_request"),
    Step(RequestAction.WITHDRAW, S.SUBMITTED, "tool_requests.withdraw_request"),
    Step(RequestAction.WITHDRAW, S.OWNER_APPROVED, "tool_requests.withdraw_request"),
    Step(RequestAction.WITHDRAW, S.APPROVED, "tool_requests.withdraw_request"),
    Step(RequestAction.PROVISION, S.APPROVED, "tool_requests.provision_request"),
]
_STEP = {(s.action, s.from_status): s for s in STEPS}


def can_request_for(user, factory) -> bool:
    """Members of the factory (any role) and CoE staff may ask for tools for it."""
    return policy.allowed(user, "tool_requests.add_request", factory)


def can_edit(user, tool_request: ToolRequest) -> bool:
    """A draft is edited (or deleted) by its requester, the factory's owners or CoE staff."""
    return tool_request.status == S.DRAFT and policy.allowed(
        user, "tool_requests.change_request", tool_request
    )


def actor_problem(step: Step, tool_request: ToolRequest, user) -> str:
    """Why ``user`` may not take ``step`` on the request ("" when they may).

    The decision is the step's rule; the predicates only explain a refusal."""
    if policy.allowed(user, step.rule, tool_request):
        return ""
    if step.who == "requester":
        return "Only the requester may do this."
    if step.action in (RequestAction.APPROVE, RequestAction.REJECT) and policy.is_requester(
        user, tool_request
    ):
        return "Nobody approves (or rejects) their own request."
    if step.who == "owner":
        return (
            "Only a business owner of the factory gives the first approval (CoE staff when "
            "the factory has no other business owner than the requester)."
        )
    if not policy.allowed(user, "tool_requests.provision_request", tool_request):
        return "Only CoE staff give this step."
    return "The CoE approval needs a second person, not the owner approver."


def step_capacity(step: Step, tool_request: ToolRequest, user) -> str:
    """The capacity ``user`` takes ``step`` in: the requester's own steps, a business owner
    of the factory at the owner step, CoE staff otherwise (standing in for an owner too)."""
    if step.who == "requester":
        return Capacity.REQUESTER
    if step.who == "owner" and policy.is_owner_of(user, tool_request):
        return Capacity.BUSINESS_OWNER
    return Capacity.COE_STAFF


def allowed_actions(tool_request: ToolRequest, user) -> list[str]:
    """The actions ``user`` may take on the request now (for buttons)."""
    return [
        s.action
        for s in STEPS
        if s.from_status == tool_request.status and not actor_problem(s, tool_request, user)
    ]


HEADER_FIELDS = ("proposed_name", "proposed_vendor", "proposed_homepage")


def _refuse_header_breaks(values: dict) -> None:
    """The proposed tool's name (and vendor, homepage) reach mail subjects: a line break
    there would split the header, so it is refused as typed (before any trimming)."""
    errors = {
        field: "Line breaks and control characters are not allowed here."
        for field in HEADER_FIELDS
        if unsafe_header_text(values.get(field) or "")
    }
    if errors:
        raise ValidationError(errors)


def _validate_fields(fields: dict) -> None:
    errors: dict[str, str] = {}
    tool = fields.get("tool")
    name = (fields.get("proposed_name") or "").strip()
    if tool is None and not name:
        errors["tool"] = "Name a registry tool or propose a new one."
    if tool is not None and name:
        errors["proposed_name"] = "Either a registry tool or a proposed new tool, not both."
    if tool is None and name and fields.get("capability") is None:
        errors["capability"] = "A proposed new tool needs the capability it is for."

    if not (fields.get("justification") or "").strip():
        errors["justification"] = "Say why the factory needs it."
    cost = fields.get("estimated_annual_cost")
    if cost is not None and Decimal(cost) < 0:
        errors["estimated_annual_cost"] = "The cost cannot be negative."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def tool_request_create(
    *,
    factory,
    requester,
    tool: Tool | None = None,
    proposed_name: str = "",
    proposed_vendor: str = "",
    proposed_homepage: str = "",
    capability: Capability | None = None,
    justification: str = "",
    seats: int | None = None,
    estimated_annual_cost: Decimal | None = None,
    needed_by: dt.date | None = None,
) -> ToolRequest:
    """A new draft request; its checks are computed (and shown) from the start."""
    if not can_request_for(requester, factory):
        raise PermissionDenied("Only members of the factory may ask for tools for it.")
    _refuse_header_breaks(
        {
            "proposed_name": proposed_name,
            "proposed_vendor": proposed_vendor,
            "proposed_homepage": proposed_homepage,
        }
    )
    fields = {
        "tool": tool,
        "proposed_name": (proposed_name or "").strip(),
        "proposed_vendor": (proposed_vendor or "").strip(),
        "proposed_homepage": proposed_homepage or "",
        "capability": capability,
        "justification": (justification or "").strip(),
        "seats": seats,
        "estimated_annual_cost": estimated_annual_cost,
        "needed_by": needed_by,
    }
    _validate_fields(fields)
    tool_request = ToolRequest(factory=factory, requester=requester, **fields)
    tool_request.checks = request_checks(tool_request)
    tool_request.save()
    RequestTransition.objects.create(
        request=tool_request,
        actor=requester,
        capacity=Capacity.REQUESTER,
        action="create",
        to_status=S.DRAFT,
    )
    return tool_request


@transaction.atomic
def tool_request_update(*, tool_request: ToolRequest, actor, **changes) -> ToolRequest:
    """Edit a draft (its requester, the factory's owners or CoE staff)."""
    if tool_request.status != S.DRAFT:
        raise TransitionConflict("Only a draft can be edited; withdraw and ask again.")
    if not can_edit(actor, tool_request):
        raise PermissionDenied("Only the requester may edit this draft.")
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in unknown})
    _refuse_header_breaks(changes)
    for name in ("proposed_name", "proposed_vendor"):
        if name in changes:
            changes[name] = (changes[name] or "").strip()
    fields = {name: getattr(tool_request, name) for name in EDITABLE_FIELDS}
    fields.update(changes)
    # Switching between a registry tool and a proposed one clears the other side.
    if changes.get("tool") is not None and "proposed_name" not in changes:
        fields.update(proposed_name="", proposed_vendor="", proposed_homepage="")
    if (changes.get("proposed_name") or "").strip() and "tool" not in changes:
        fields["tool"] = None
    _validate_fields(fields)
    for name, value in fields.items():
        setattr(tool_request, name, value)
    tool_request.checks = request_checks(tool_request)
    tool_request.save()
    return tool_request


def _due(days_setting: str) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=setting_days(days_setting))


def _validate_exception(expires_on: dt.date | None) -> dt.date:
    today = timezone.localdate()
    longest = today + dt.timedelta(days=setting_days("TOOL_REQUEST_EXCEPTION_MAX_DAYS"))
    if expires_on is None:
        raise ValidationError(
            {"exception_expires_on": "The tool is on hold or retired: approving it is an "
             "exception and needs an expiry date."}
        )  # fmt: skip
    if expires_on <= today:
        raise ValidationError({"exception_expires_on": "The expiry date must be in the future."})
    if expires_on > longest:
        raise ValidationError(
            {"exception_expires_on": f"An exception lasts at most until {longest.isoformat()}."}
        )
    return expires_on


def _tool_for(tool_request: ToolRequest, actor) -> Tool:
    """The registry tool of a request; a proposed new tool enters the registry on trial."""
    if tool_request.tool_id:
        return tool_request.tool
    # The tool the checks judged (a proposed name the registry resolves is that tool).
    resolved = resolve_proposed(tool_request.proposed_name)
    if resolved is not None:
        return resolved
    tool = services.tool_create(
        name=tool_request.proposed_name,
        vendor=tool_request.proposed_vendor,
        homepage=tool_request.proposed_homepage,
        capabilities=[tool_request.capability] if tool_request.capability_id else [],
        ring=Ring.TRIAL,
        actor=actor,
    )
    reason = f"Added by tool request #{tool_request.pk}"
    changes = list(tool.ring_changes.all())
    tool.ring_changes.update(reason=reason)
    log_bulk(RingChange, changes, action="update", changes={"reason": ["", reason]})
    return tool


def _provision_checks(req: ToolRequest, actor, exception_expires_on, updates: dict) -> list:
    """The checks as of provisioning. The registry may have moved since the approval (a tool
    put on hold, an exception past its date): a block without a valid exception refuses,
    unless a CoE approver (not the requester, not the owner approver) grants one now."""
    checks = request_checks(req)
    if not blocking_checks(checks):
        if exception_expires_on is not None:
            raise ValidationError(
                {"exception_expires_on": "Only a hold- or retired-ring tool needs an exception."}
            )
        return checks
    if exception_expires_on is None or not is_blocked_by_ring(checks):
        reasons = " ".join(c["message"] for c in blocking_checks(checks))
        raise TransitionConflict(
            f"Provisioning is refused: {reasons} Withdraw the request, or provision it with an "
            "exception (exception_expires_on) granted by a second CoE approver."
        )
    if not policy.allowed(actor, _COE, req):
        raise PermissionDenied(
            "An exception is granted by CoE staff other than the requester and the owner approver."
        )
    req.exception_expires_on = _validate_exception(exception_expires_on)
    updates["exception_expires_on"] = req.exception_expires_on
    checks = request_checks(req)
    if blocking_checks(checks):
        raise TransitionConflict(
            "Provisioning is refused: " + " ".join(c["message"] for c in blocking_checks(checks))
        )
    return checks


@transaction.atomic
def tool_request_transition(
    *,
    tool_request: ToolRequest | int,
    action: str,
    actor,
    comment: str = "",
    exception_expires_on: dt.date | None = None,
    notify: bool = True,
) -> ToolRequest:
    """Take ``action`` on the request as ``actor`` (see the module docstring for the rules).

    ``notify=False`` sends no mail (the demo loader uses it)."""
    pk = tool_request.pk if isinstance(tool_request, ToolRequest) else tool_request
    req = (
        ToolRequest.objects.select_for_update(of=("self",))
        .select_related("factory", "tool", "capability", "requester")
        .get(pk=pk)
    )
    step = _STEP.get((action, req.status))
    if step is None:
        raise TransitionConflict(
            f"'{action}' is not possible on a request that is "
            f"{RequestStatus(req.status).label.lower()}."
        )
    problem = actor_problem(step, req, actor)
    if problem:
        raise PermissionDenied(problem)
    comment = (comment or "").strip()
    if action == RequestAction.REJECT and not comment:
        raise ValidationError({"comment": "Say why the request is rejected."})

    now = timezone.now()
    from_status = req.status
    updates: dict = {"updated_at": now}
    if action == RequestAction.SUBMIT:
        checks = request_checks(req)
        updates.update(status=S.SUBMITTED, checks=checks, submitted_at=now)
        updates["owner_due_on"] = _due("TOOL_REQUEST_OWNER_DAYS")
    elif action == RequestAction.APPROVE and from_status == S.SUBMITTED:
        if exception_expires_on is not None:
            raise ValidationError(
                {"exception_expires_on": "Exceptions are granted at the CoE step."}
            )
        checks = request_checks(req)
        fast = fast_track_enabled() and qualifies_for_fast_track(checks)
        updates.update(checks=checks, owner_approver=actor, fast_track=fast)
        if fast:
            updates.update(status=S.APPROVED, decided_at=now)
            updates["provision_due_on"] = _due("TOOL_REQUEST_PROVISION_DAYS")
        else:
            updates.update(status=S.OWNER_APPROVED, coe_due_on=_due("TOOL_REQUEST_COE_DAYS"))
    elif action == RequestAction.APPROVE:
        checks = request_checks(req)
        if is_blocked_by_ring(checks):
            req.exception_expires_on = _validate_exception(exception_expires_on)
            updates["exception_expires_on"] = req.exception_expires_on
            checks = request_checks(req)
        elif exception_expires_on is not None:
            raise ValidationError(
                {"exception_expires_on": "Only a hold- or retired-ring tool needs an exception."}
            )
        updates.update(
            status=S.APPROVED,
            checks=checks,
            coe_approver=actor,
            decided_at=now,
            provision_due_on=_due("TOOL_REQUEST_PROVISION_DAYS"),
        )
    elif action == RequestAction.REJECT:
        updates.update(status=S.REJECTED, decided_at=now)
    elif action == RequestAction.WITHDRAW:
        updates.update(status=S.WITHDRAWN, decided_at=req.decided_at or now)
    elif action == RequestAction.PROVISION:
        checks = _provision_checks(req, actor, exception_expires_on, updates)
        updates.update(status=S.PROVISIONED, checks=checks)

    # Compare-and-swap: only one of two people acting at once moves the status.
    moved = ToolRequest.objects.filter(pk=req.pk, status=from_status).update(**updates)
    if moved != 1:
        raise TransitionConflict("The request changed meanwhile; reload it.")
    before = copy.copy(req)
    for name, value in updates.items():
        setattr(req, name, value)
    log_bulk(ToolRequest, [req], action="update", before={req.pk: before})
    if action == RequestAction.PROVISION:
        tool = _tool_for(req, actor)
        adoption = services.adoption_create(
            factory=req.factory,
            declared_name=tool.name,
            declared_vendor=tool.vendor,
            declared_capability=req.capability.name if req.capability_id else "",
            seats=req.seats,
            annual_cost=req.estimated_annual_cost,
            source=AdoptionSource.REQUEST,
            tool=tool,
        )
        ToolRequest.objects.filter(pk=req.pk).update(tool=tool, adoption=adoption)
        before = copy.copy(req)
        req.tool, req.adoption = tool, adoption
        log_bulk(ToolRequest, [req], action="update", before={req.pk: before})
    RequestTransition.objects.create(
        request=req,
        actor=actor,
        capacity=step_capacity(step, req, actor),
        action=action,
        from_status=from_status,
        to_status=req.status,
        comment=comment,
        at=now,
    )
    emit_request_transition(req, from_status=from_status, actor=actor)
    if notify:
        notify_transition(
            req, from_status=from_status, to_status=req.status, actor=actor, comment=comment
        )
    return req


@transaction.atomic
def request_comment_add(
    *, tool_request: ToolRequest, author, body: str, parent: RequestComment | None = None
) -> RequestComment:
    """Comment on a request, or reply to a comment (a reply to a reply joins its thread)."""
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "A comment needs some text."})
    if parent is not None:
        if parent.request_id != tool_request.pk:
            raise ValidationError({"parent": "That comment belongs to another request."})
        while parent.parent_id:
            parent = parent.parent
    return RequestComment.objects.create(
        request=tool_request, author=author, body=body, parent=parent
    )


@transaction.atomic
def tool_request_delete(*, tool_request: ToolRequest, actor) -> None:
    """Delete a draft (a submitted request is withdrawn instead, so its history stays)."""
    if tool_request.status != S.DRAFT:
        raise TransitionConflict("Only a draft can be deleted; withdraw the request instead.")
    if not can_edit(actor, tool_request):
        raise PermissionDenied("Only the requester may delete this draft.")
    tool_request.delete()
