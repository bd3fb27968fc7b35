"""Demo tool requests: one story per status (``load_demo`` runs after the registry
demo; idempotent: a request already there, by factory, requester and justification, is kept)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from coe.changelog import log_bulk
from registry.models import Capability, Tool
from tool_requests.models import ToolRequest
from tool_requests.services import tool_request_create, tool_request_transition

# (factory, requester, tool or None, proposed (name, vendor, homepage, capability slug) or None,
#  seats, annual cost, justification, steps [(action, actor, comment)])
REQUESTS = [
    ("customer-app", "member.customer-app", "Datadog", None, 20, "18000",
     "We want APM traces across the mobile back end; Prometheus gives us metrics only.",
     []),
    ("puebla-assembly", "member.puebla", "Grafana", None, 10, "960",
     "Shift dashboards for the new assembly lines, fed from Ignition and PI.",
     [("submit", "member.puebla", "Needed before the line 3 ramp-up.")]),
    ("customer-app", "member.customer-app", None,
     ("Graphana Cloud", "Grafana Labs", "https://grafana.com", "dashboards"), 5, "3000",
     "Hosted dashboards for the store team.",
     [("submit", "member.customer-app", "")]),
    ("stuttgart-press", "member.stuttgart", "Cognex VisionPro", None, 4, "10000",
     "Vision inspection of press parts: the pilot in Pilsen found 30% fewer escapes.",
     [("submit", "member.stuttgart", ""),
      ("approve", "owner.automotive", "Worth it if Pilsen shares its recipes.")]),
    ("puebla-assembly", "member.puebla", "TIA Portal", None, 5, "7500",
     "PLC engineering for the new lines (the standard tool).",
     [("submit", "member.puebla", ""), ("approve", "owner.automotive", "Standard tool.")]),
    ("customer-app", "member.customer-app", "Redmine", None, 8, "0",
     "A customer project mandates their Redmine for six months.",
     [("submit", "member.customer-app", ""),
      ("approve", "owner.digital", "Contractual, time-boxed."),
      ("approve", "coe.lead", "Exception for the contract term only.")]),
    ("stuttgart-press", "member.stuttgart", "Siemens NX", None, 2, "12000",
     "Die design moves in-house; NX CAM is the group standard.",
     [("submit", "member.stuttgart", ""), ("approve", "owner.automotive", ""),
      ("approve", "coe.lead", "Standard tool, budget confirmed."),
      ("provision", "coe.lead", "Licences assigned.")]),
    ("dealer-portal", "member.dealer-portal", None,
     ("CircleCI", "CircleCI", "https://circleci.com", "ci-cd"), 25, "15000",
     "Faster pipelines for the portal.",
     [("submit", "member.dealer-portal", ""),
      ("reject", "owner.digital", "We run four CI tools already: consolidate on GitLab first.")]),
    ("puebla-assembly", "member.puebla", "FactoryTalk View", None, 6, "4200",
     "HMI for the Rockwell cells.",
     [("submit", "member.puebla", ""),
      ("withdraw", "member.puebla", "Ignition covers these cells after all.")]),
]  # fmt: skip


@transaction.atomic
def load_demo(core: dict, stdout) -> None:
    """Tool requests in every state: draft, submitted (one overdue), owner-approved,
    approved on the fast track, approved as an exception, provisioned, rejected, withdrawn."""
    factories, users = core["factories"], core["users"]
    made = 0
    for slug, who, tool_name, proposed, seats, cost, why, steps in REQUESTS:
        factory, requester = factories[slug], users[who]
        if ToolRequest.objects.filter(factory=factory, requester=requester, justification=why):
            continue
        fields = {"tool": Tool.objects.get(name=tool_name)} if tool_name else {}
        if proposed:
            name, vendor, homepage, cap = proposed
            fields.update(
                proposed_name=name,
                proposed_vendor=vendor,
                proposed_homepage=homepage,
                capability=Capability.objects.get(slug=cap),
            )
        req = tool_request_create(
            factory=factory,
            requester=requester,
            justification=why,
            seats=seats,
            estimated_annual_cost=Decimal(cost),
            **fields,
        )
        for action, actor, comment in steps:
            exception = None
            if action == "approve" and actor.startswith("coe.") and tool_name == "Redmine":
                exception = timezone.localdate() + dt.timedelta(days=180)
            req = tool_request_transition(
                tool_request=req,
                action=action,
                actor=users[actor],
                comment=comment,
                exception_expires_on=exception,
                notify=False,
            )
        made += 1
    # One waiting request is overdue, so the queue shows the flag.
    overdue = ToolRequest.objects.filter(
        factory=factories["puebla-assembly"], status="submitted", owner_due_on__isnull=False
    )
    ids = list(overdue.values_list("pk", flat=True))
    overdue.update(owner_due_on=timezone.localdate() - dt.timedelta(days=3))
    log_bulk(
        ToolRequest,
        ToolRequest.objects.filter(pk__in=ids).select_related("factory"),
        action="update",
        changes={"owner_due_on": ["", "three days ago (demo)"]},
    )
    stdout.write(f"Tool requests: {made} created, {ToolRequest.objects.count()} in total.")
