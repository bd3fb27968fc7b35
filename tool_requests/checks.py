"""Policy checks of a tool request: one function (:func:`policy_checks`) serves the live
preview of the form, the stored checks of a submitted request and the approval steps.

:func:`evaluate` is pure (plain data in, ``[{check, result, message}]`` out);
:func:`check_input` loads what it needs from the registry in a constant number of queries.

Settings (``coe/settings.py``, from the environment):
``TOOL_REQUEST_REVIEW_THRESHOLD`` (10000, in the factory's currency),
``TOOL_REQUEST_FAST_TRACK`` (on), ``TOOL_REQUEST_OWNER_DAYS`` (5),
``TOOL_REQUEST_COE_DAYS`` (10), ``TOOL_REQUEST_PROVISION_DAYS`` (10),
``TOOL_REQUEST_EXCEPTION_MAX_DAYS`` (365), ``SITE_URL`` (links in mails).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from tool_requests.choices import CheckName, CheckResult

# A proposed name this similar to a registry tool is worth a "did you mean …".
NEAR_MATCH_THRESHOLD = 0.7
# How many other factories a message names before it says "and N more".
MAX_NAMED = 5


def review_threshold() -> Decimal:
    """Annual cost above which a request needs CoE review (``TOOL_REQUEST_REVIEW_THRESHOLD``)."""
    return Decimal(str(settings.TOOL_REQUEST_REVIEW_THRESHOLD))


def fast_track_enabled() -> bool:
    return bool(settings.TOOL_REQUEST_FAST_TRACK)


def setting_days(name: str) -> int:
    """One of the ``TOOL_REQUEST_*_DAYS`` settings."""
    return int(getattr(settings, name))


@dataclass(frozen=True)
class CheckInput:
    """Everything the checks look at, as plain data."""

    factory_name: str
    factory_kind: str
    tool_name: str
    is_new: bool = False
    ring: str | None = None  # the tool's ring for this factory's kind; None for a new tool
    capability: str = ""
    already_uses_tool: bool = False
    factory_tools_for_capability: tuple[str, ...] = ()
    standards: tuple[str, ...] = ()  # adopt-ring tools for the capability (not the requested)
    requested_is_standard: bool = False
    users_of_tool: tuple[str, ...] = ()  # other factories that use the requested tool
    users_of_standard: tuple[str, ...] = ()  # other factories that use a standard
    near_match: str = ""  # "did you mean …" for a new tool
    near_match_ring: str = ""
    near_match_exact: bool = False
    annual_cost: Decimal | None = None
    currency: str = "EUR"
    threshold: Decimal = Decimal("10000")
    exception_until: dt.date | None = None
    today: dt.date | None = None  # an exception that ended before this day is no exception
    resolved_from: str = ""  # the proposed name that resolved to this registry tool


def _check(name: str, result: str, message: str) -> dict:
    return {"check": name, "result": result, "message": message}


def _names(names: tuple[str, ...]) -> str:
    shown = ", ".join(names[:MAX_NAMED])
    more = len(names) - MAX_NAMED
    return f"{shown} and {more} more" if more > 0 else shown


def _money(amount: Decimal, currency: str) -> str:
    return f"{currency} {amount:,.0f}"


def ring_check(data: CheckInput) -> dict:
    kind = f"{data.factory_kind} factories"
    if data.is_new:
        return _check(
            CheckName.RING,
            CheckResult.WARN,
            f"{data.tool_name} is not in the registry yet: a new tool needs CoE review.",
        )
    ring = data.ring or "assess"
    if ring == "adopt":
        return _check(
            CheckName.RING, CheckResult.PASS, f"{data.tool_name} is on the adopt ring for {kind}."
        )
    if ring in ("trial", "assess"):
        return _check(
            CheckName.RING,
            CheckResult.WARN,
            f"{data.tool_name} is on the {ring} ring for {kind}: needs CoE review.",
        )
    where = "on hold" if ring == "hold" else "retired"
    if data.exception_until and data.today and data.exception_until < data.today:
        return _check(
            CheckName.RING,
            CheckResult.BLOCK,
            f"{data.tool_name} is {where} for {kind} and its exception ended on "
            f"{data.exception_until.isoformat()}: only a new exception can approve it.",
        )
    if data.exception_until:
        return _check(
            CheckName.RING,
            CheckResult.WARN,
            f"{data.tool_name} is {where} for {kind}; approved as an exception until "
            f"{data.exception_until.isoformat()}.",
        )
    return _check(
        CheckName.RING,
        CheckResult.BLOCK,
        f"{data.tool_name} is {where} for {kind}: only an exception with an expiry date, "
        "granted by CoE staff, can approve it.",
    )


def duplicate_check(data: CheckInput) -> dict:
    if data.already_uses_tool:
        return _check(
            CheckName.DUPLICATE,
            CheckResult.WARN,
            f"{data.factory_name} already uses {data.tool_name}: ask for more seats instead.",
        )
    if data.factory_tools_for_capability:
        what = data.capability or "this capability"
        return _check(
            CheckName.DUPLICATE,
            CheckResult.WARN,
            f"{data.factory_name} already runs {_names(data.factory_tools_for_capability)} "
            f"for {what}: a second tool would be a duplicate.",
        )
    what = data.capability or "this capability"
    return _check(
        CheckName.DUPLICATE,
        CheckResult.PASS,
        f"{data.factory_name} runs no other tool for {what}.",
    )


def standard_check(data: CheckInput) -> dict:
    what = data.capability or "this capability"
    if data.requested_is_standard:
        return _check(
            CheckName.STANDARD,
            CheckResult.PASS,
            f"{data.tool_name} is the adopt-ring standard for {what}.",
        )
    if data.standards:
        return _check(
            CheckName.STANDARD,
            CheckResult.WARN,
            f"{_names(data.standards)} is the adopt-ring standard for {what}: consider it instead.",
        )
    return _check(
        CheckName.STANDARD, CheckResult.PASS, f"No adopt-ring standard exists for {what} yet."
    )


def used_elsewhere_check(data: CheckInput) -> dict:
    parts = []
    if data.users_of_tool:
        parts.append(f"{data.tool_name} is already used by {_names(data.users_of_tool)}")
    if data.users_of_standard and not data.requested_is_standard:
        standard = _names(data.standards) if data.standards else "the standard"
        parts.append(f"{standard} is used by {_names(data.users_of_standard)}")
    if not parts:
        return _check(
            CheckName.USED_ELSEWHERE,
            CheckResult.PASS,
            f"No other factory uses {data.tool_name} yet.",
        )
    return _check(
        CheckName.USED_ELSEWHERE,
        CheckResult.PASS,
        "; ".join(parts) + ": ask them about their experience.",
    )


def near_match_check(data: CheckInput) -> dict:
    if data.resolved_from:
        ring = f" ({data.ring} ring for {data.factory_kind} factories)" if data.ring else ""
        return _check(
            CheckName.NEAR_MATCH,
            CheckResult.WARN,
            f"{data.resolved_from} is {data.tool_name} in the registry{ring}: the request is "
            f"checked, approved and provisioned as {data.tool_name}.",
        )
    if not data.near_match:
        return _check(
            CheckName.NEAR_MATCH,
            CheckResult.PASS,
            f"Nothing in the registry looks like {data.tool_name}.",
        )
    ring = f" ({data.near_match_ring} ring)" if data.near_match_ring else ""
    if data.near_match_exact:
        message = (
            f"{data.tool_name} is already in the registry as {data.near_match}{ring}: "
            "request that tool instead."
        )
    else:
        message = f"Did you mean {data.near_match}{ring}? It is already in the registry."
    return _check(CheckName.NEAR_MATCH, CheckResult.WARN, message)


def budget_check(data: CheckInput) -> dict:
    if data.annual_cost is None:
        return _check(
            CheckName.BUDGET,
            CheckResult.PASS,
            "No annual cost given; the budget check assumes it stays under "
            f"{_money(data.threshold, data.currency)}.",
        )
    if data.annual_cost > data.threshold:
        return _check(
            CheckName.BUDGET,
            CheckResult.WARN,
            f"{_money(data.annual_cost, data.currency)} a year is above the review threshold "
            f"of {_money(data.threshold, data.currency)}: needs CoE review.",
        )
    return _check(
        CheckName.BUDGET,
        CheckResult.PASS,
        f"{_money(data.annual_cost, data.currency)} a year is within the "
        f"{_money(data.threshold, data.currency)} an owner may approve alone.",
    )


def evaluate(data: CheckInput) -> list[dict]:
    """All checks of a request, in display order."""
    checks = [ring_check(data), duplicate_check(data), standard_check(data)]
    checks.append(used_elsewhere_check(data))
    if data.is_new or data.resolved_from:
        checks.append(near_match_check(data))
    checks.append(budget_check(data))
    return checks


def qualifies_for_fast_track(checks: list[dict]) -> bool:
    """Adopt ring, no duplicate in the factory, under the threshold (and a registry tool
    asked for by its registry entry: a proposed name always goes to the CoE)."""
    by_name = {c["check"]: c["result"] for c in checks}
    if CheckName.NEAR_MATCH in by_name:  # a proposed new tool always goes to the CoE
        return False
    return all(
        by_name.get(name) == CheckResult.PASS
        for name in (CheckName.RING, CheckName.DUPLICATE, CheckName.BUDGET)
    )


def is_blocked_by_ring(checks: list[dict]) -> bool:
    return any(c["check"] == CheckName.RING and c["result"] == CheckResult.BLOCK for c in checks)


def blocking_checks(checks: list[dict]) -> list[dict]:
    """The checks that block the request."""
    return [c for c in checks if c["result"] == CheckResult.BLOCK]


# --- loading the input from the database ------------------------------------------------------


def tool_ring_for_kind(tool, factory_kind: str) -> str:
    """The tool's ring for a kind of factory: its override for that kind, else its ring."""
    from registry.models import ToolRingOverride

    override = (
        ToolRingOverride.objects.filter(tool=tool, factory_kind=factory_kind)
        .values_list("ring", flat=True)
        .first()
    )
    return override or tool.ring


def _rings_for_kind(tool_ids, factory_kind: str) -> dict[int, str]:
    from registry.models import Tool, ToolRingOverride

    rings = dict(Tool.objects.filter(pk__in=tool_ids).values_list("pk", "ring"))
    for tool_id, ring in ToolRingOverride.objects.filter(
        tool_id__in=tool_ids, factory_kind=factory_kind
    ).values_list("tool_id", "ring"):
        rings[tool_id] = ring
    return rings


_RESOLVER_CACHE: dict = {}


def near_match_resolver():
    """The registry's resolver at the looser "did you mean" threshold, rebuilt only when the
    registry changed (tool count, last tool change, alias count, last alias): the live
    preview types a name letter by letter and must not reload 5,000 tools each time."""
    from django.db.models import Count, Max

    from registry.models import Tool, ToolAlias
    from registry.selectors import registry_resolver

    key = (
        tuple(Tool.objects.aggregate(n=Count("pk"), at=Max("updated_at"), top=Max("pk")).values()),
        tuple(ToolAlias.objects.aggregate(n=Count("pk"), top=Max("pk")).values()),
    )
    cached = _RESOLVER_CACHE.get("resolver")
    if cached is None or cached[0] != key:
        resolver = registry_resolver()
        resolver.threshold = NEAR_MATCH_THRESHOLD
        cached = _RESOLVER_CACHE["resolver"] = (key, resolver)
    return cached[1]


def resolve_proposed(name: str):
    """The registry tool a proposed name resolves to, or None.

    The registry's own name resolution (``registry.resolution``) at its own threshold, so
    "Jenkins", "jenkins ci" or an alias of Jenkins are Jenkins, exactly as an adoption
    declaring that name would be: every check, the approval and provisioning then treat
    the request as that tool."""
    from registry.models import Tool

    if not (name or "").strip():
        return None
    match = near_match_resolver().resolve(name)
    return Tool.objects.filter(pk=match.tool_id).first() if resolves(match) else None


def resolves(match) -> bool:
    """A match of the looser "did you mean" resolver that the registry's resolver, at its
    own threshold, would also give (the same steps; only the threshold differs)."""
    from registry.resolution import DEFAULT_THRESHOLD

    return match.tool_id is not None and match.confidence >= DEFAULT_THRESHOLD


def check_input(
    *,
    factory,
    tool=None,
    proposed_name: str = "",
    capability=None,
    seats: int | None = None,
    estimated_annual_cost: Decimal | None = None,
    exception_until: dt.date | None = None,
) -> CheckInput:
    """Load what the checks need for a request of ``tool`` (or ``proposed_name``) by ``factory``."""
    from django.utils import timezone

    from registry.models import Adoption, Tool

    kind = factory.kind
    near, near_ring, near_exact, resolved_from = "", "", False, ""
    if tool is None and proposed_name.strip():
        match = near_match_resolver().resolve(proposed_name)
        found = match.tool_id or match.candidate_id
        if found and (match.tool_id or match.confidence >= NEAR_MATCH_THRESHOLD):
            near_tool = Tool.objects.filter(pk=found).first()
            if near_tool is not None and resolves(match):
                # The name is a registry tool: it is checked as that tool.
                tool, resolved_from = near_tool, proposed_name.strip()
            elif near_tool is not None:
                near = near_tool.name
                near_ring = tool_ring_for_kind(near_tool, kind)
                near_exact = match.method in ("exact", "alias")
    if capability is not None:
        cap_ids = [capability.pk]
        cap_name = capability.name
    elif tool is not None:
        caps = list(tool.capabilities.order_by("name").values_list("pk", "name"))
        cap_ids = [pk for pk, _ in caps]
        cap_name = " / ".join(name for _, name in caps)
    else:
        cap_ids, cap_name = [], ""

    active = Adoption.objects.filter(status="active", tool__isnull=False)
    # Tools serving the capability, with their ring for this kind (two queries).
    cap_tool_ids = (
        set(Tool.objects.filter(capabilities__in=cap_ids).values_list("pk", flat=True))
        if cap_ids
        else set()
    )
    rings = _rings_for_kind(cap_tool_ids | ({tool.pk} if tool else set()), kind)
    tool_id = tool.pk if tool is not None else None
    standard_ids = {pk for pk in cap_tool_ids if rings.get(pk) == "adopt" and pk != tool_id}
    names = dict(Tool.objects.filter(pk__in=cap_tool_ids).values_list("pk", "name"))

    in_factory = set(active.filter(factory=factory).values_list("tool_id", flat=True))
    factory_tools = tuple(sorted(names[pk] for pk in in_factory & cap_tool_ids if pk != tool_id))

    users_of_tool: tuple[str, ...] = ()
    users_of_standard: tuple[str, ...] = ()
    wanted = ({tool_id} if tool_id else set()) | standard_ids
    if wanted:
        by_tool: dict[int, set[str]] = {}
        for used_id, factory_name in (
            active.filter(tool_id__in=wanted)
            .exclude(factory=factory)
            .values_list("tool_id", "factory__name")
        ):
            by_tool.setdefault(used_id, set()).add(factory_name)
        users_of_tool = tuple(sorted(by_tool.get(tool_id, set()))) if tool_id else ()
        users_of_standard = tuple(
            sorted(set().union(*(by_tool.get(pk, set()) for pk in standard_ids)))
        )

    cost = estimated_annual_cost
    if cost is None and seats and tool is not None and tool.annual_cost_per_seat is not None:
        cost = tool.annual_cost_per_seat * seats
    return CheckInput(
        factory_name=factory.name,
        factory_kind=kind,
        tool_name=tool.name if tool is not None else proposed_name.strip(),
        is_new=tool is None,
        ring=rings.get(tool_id) if tool_id else None,
        capability=cap_name,
        already_uses_tool=bool(tool_id and tool_id in in_factory),
        factory_tools_for_capability=factory_tools,
        standards=tuple(sorted(names[pk] for pk in standard_ids)),
        requested_is_standard=bool(tool_id and rings.get(tool_id) == "adopt" and cap_ids),
        users_of_tool=users_of_tool,
        users_of_standard=users_of_standard,
        near_match=near,
        near_match_ring=near_ring,
        near_match_exact=near_exact,
        annual_cost=Decimal(cost) if cost is not None else None,
        currency=getattr(factory, "currency", "") or "EUR",
        threshold=review_threshold(),
        exception_until=exception_until,
        today=timezone.localdate(),
        resolved_from=resolved_from,
    )


def policy_checks(**kwargs) -> list[dict]:
    """The checks of a request (or of a draft being typed): see :func:`check_input`."""
    return evaluate(check_input(**kwargs))


def request_checks(tool_request) -> list[dict]:
    """The checks of a stored request, as of now."""
    return policy_checks(
        factory=tool_request.factory,
        tool=tool_request.tool,
        proposed_name=tool_request.proposed_name,
        capability=tool_request.capability,
        seats=tool_request.seats,
        estimated_annual_cost=tool_request.estimated_annual_cost,
        exception_until=tool_request.exception_expires_on,
    )
