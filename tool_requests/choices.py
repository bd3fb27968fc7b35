"""Choice lists of tool requests."""

from django.db import models


class RequestStatus(models.TextChoices):
    """Where a tool request stands in its two-step approval."""

    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    OWNER_APPROVED = "owner_approved", "Approved by the business owner"
    APPROVED = "approved", "Approved"
    PROVISIONED = "provisioned", "Provisioned"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


# Statuses in which somebody still has to act (the request is "open").
OPEN_STATUSES = [
    RequestStatus.SUBMITTED,
    RequestStatus.OWNER_APPROVED,
    RequestStatus.APPROVED,
]
FINAL_STATUSES = [RequestStatus.PROVISIONED, RequestStatus.REJECTED, RequestStatus.WITHDRAWN]


class RequestAction(models.TextChoices):
    """What a person can do to a request (each one is a transition)."""

    SUBMIT = "submit", "Submit"
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"
    WITHDRAW = "withdraw", "Withdraw"
    PROVISION = "provision", "Mark provisioned"


class Capacity(models.TextChoices):
    """In which role a person took a step (shown in the request's history)."""

    REQUESTER = "requester", "Requester"
    BUSINESS_OWNER = "business_owner", "Business owner"
    COE_STAFF = "coe_staff", "CoE staff"


class CheckResult(models.TextChoices):
    PASS = "pass", "Pass"
    WARN = "warn", "Warn"
    BLOCK = "block", "Block"


class CheckName(models.TextChoices):
    """The policy checks, in the order they are shown."""

    RING = "ring", "Ring"
    DUPLICATE = "duplicate", "Already in the factory"
    STANDARD = "standard", "Adopt-ring standard"
    USED_ELSEWHERE = "used_elsewhere", "Used by other factories"
    NEAR_MATCH = "near_match", "Did you mean"
    BUDGET = "budget", "Budget"
