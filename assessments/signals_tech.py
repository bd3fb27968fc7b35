"""Evidence signals for the technologies that separate Advanced and Optimized factories,
and for how far a factory's systems are integrated.

Each reads two kinds of fact: what the registry says the factory adopted (tools of a
capability) and what has landed through connectors and imports (metric samples, OT
counters, devices). A tool adopted without data is a pilot at best; data without the tool
still counts (the registry is then behind). Technology signals share one scale:

    0     no tool of the capability adopted and no data landed
    0.25  a tool adopted, no data landed yet (a pilot at most)
    0.25 + 0.75 × coverage   data landed; coverage is the signal's own share (0–1)

and say "not measured" when the factory has neither adoptions nor data to judge by, or the
technology does not apply to its kind. The metric keys they read are in docs/kpis.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Max, Q, Sum

from assessments.signals import Measurement, not_measured, seen_in
from coe.choices import FactoryKind
from coe.models import Factory
from connectors.choices import DeviceStatus, SyncStatus
from connectors.facts import FinanceEntry, OTCounter, WorkItem
from connectors.models import Device, MetricSample, SyncRun
from registry.choices import AdoptionStatus
from registry.models import Adoption, Tool, ToolAlias
from registry.resolution import normalize, strip_vendor
from registry.selectors import registry_resolver

# Capabilities of the default taxonomy (registry/taxonomy.py), by slug.
TWIN_CAPABILITIES = ("digital-twin-simulation",)
VISION_CAPABILITIES = ("vision-quality-inspection",)
PREDICTIVE_CAPABILITIES = ("predictive-maintenance",)
CMMS_CAPABILITIES = ("cmms-maintenance",)

# Metric keys (docs/kpis.md).
TWIN_PREFIX = "twin."
VISION_INSPECTED = "quality.vision_inspected"
WORK_ORDERS = "maintenance.work_orders"
PREDICTIVE_WORK_ORDERS = "maintenance.predictive_work_orders"
AI_PREFIX = "ai."

RECENT = timedelta(days=30)
MAINTENANCE_WINDOW = timedelta(days=90)
INTEGRATION_WINDOW = timedelta(days=90)
LIVE = timedelta(hours=24)


def adopted_tools(factory: Factory, now: datetime, capabilities: tuple[str, ...]) -> list[str]:
    """Names of the tools of these capabilities (or their children) the factory had
    actively adopted by ``now``."""
    return sorted(
        set(
            Adoption.objects.filter(
                factory=factory, status=AdoptionStatus.ACTIVE, first_seen__lte=now
            )
            .filter(
                Q(tool__capabilities__slug__in=capabilities)
                | Q(tool__capabilities__parent__slug__in=capabilities)
            )
            .values_list("tool__name", flat=True)
        )
    )


def _has_adoptions(factory: Factory, now: datetime) -> bool:
    return Adoption.objects.filter(
        factory=factory, status=AdoptionStatus.ACTIVE, first_seen__lte=now
    ).exists()


def _scale(tools: list[str], coverage: float | None) -> float:
    if coverage is not None:
        return round(0.25 + 0.75 * min(max(coverage, 0.0), 1.0), 4)
    return 0.25 if tools else 0.0


def _tools_text(tools: list[str], capability: str) -> str:
    return (", ".join(tools) + " adopted") if tools else f"no {capability} tool in the registry"


def _manufacturing_only(factory: Factory, what: str) -> Measurement | None:
    if factory.kind != FactoryKind.MANUFACTURING:
        return not_measured(f"{what} applies to manufacturing factories.", "registry")
    return None


def digital_twin(factory: Factory, now: datetime) -> Measurement:
    """Digital twins kept in step with the floor: tools of the digital-twin capability
    adopted, and the share of the twin's assets (devices named by ``twin.*`` samples of the
    last 30 days, by device or by serial number as series) with live telemetry in the 24
    hours before ``now``."""
    if (missing := _manufacturing_only(factory, "A digital twin of assets")) is not None:
        return missing
    tools = adopted_tools(factory, now, TWIN_CAPABILITIES)
    samples = MetricSample.objects.filter(
        factory=factory,
        metric__startswith=TWIN_PREFIX,
        period_end__gt=now - RECENT,
        period_end__lte=now,
    )
    device_ids = set(samples.exclude(device=None).values_list("device_id", flat=True))
    series = set(samples.filter(device=None).exclude(series="").values_list("series", flat=True))
    assets = (
        Device.objects.filter(factory=factory)
        .filter(Q(pk__in=device_ids) | Q(serial_number__in=series))
        .exclude(status=DeviceStatus.STALE)
    )
    counts = assets.aggregate(total=Count("id"), live=Count("id", filter=seen_in(now, LIVE)))
    total, live = counts["total"] or 0, counts["live"] or 0
    inputs = {"tools": tools, "twin_assets": total, "live_assets": live, "window_days": 30}
    if not tools and not total and not _has_adoptions(factory, now):
        return not_measured(
            "No adoptions in the registry and no twin.* metrics: nothing to judge by.",
            "registry, connectors",
            inputs,
        )
    coverage = live / total if total else None
    data = (
        f"{live} of {total} twin assets sent telemetry in the last 24 h"
        if total
        else "no twin.* metrics naming the twin's assets in the last 30 days"
    )
    return Measurement(
        measured=True,
        value=_scale(tools, coverage),
        source="registry: adoptions; connectors: twin.* metrics, devices",
        detail=f"{_tools_text(tools, 'digital-twin')}; {data}",
        measured_at=now,
        inputs=inputs,
    )


def vision_quality(factory: Factory, now: datetime) -> Measurement:
    """Automated (vision) inspection: tools of the vision capability adopted, and the share
    of the last 30 days' output (OT counters) inspected by vision
    (``quality.vision_inspected``)."""
    if (missing := _manufacturing_only(factory, "Vision quality inspection")) is not None:
        return missing
    tools = adopted_tools(factory, now, VISION_CAPABILITIES)
    window = {"period_end__gt": now - RECENT, "period_end__lte": now}
    inspected = MetricSample.objects.filter(
        factory=factory, metric=VISION_INSPECTED, **window
    ).aggregate(parts=Sum("value"))
    produced = OTCounter.objects.filter(factory=factory, **window).aggregate(
        parts=Sum("total_count")
    )["parts"]
    parts = inspected["parts"]
    inputs = {"tools": tools, "inspected_parts": parts, "produced_parts": produced}
    if not tools and parts is None and not _has_adoptions(factory, now):
        return not_measured(
            "No adoptions in the registry and no inspection metrics: nothing to judge by.",
            "registry, connectors",
            inputs,
        )
    if parts is not None and not produced:
        return not_measured(
            f"{parts:,.0f} parts inspected by vision in 30 days, but no OT counters say how "
            "many were produced.",
            "connectors: quality.vision_inspected",
            inputs,
        )
    coverage = (parts / produced) if parts is not None else None
    data = (
        f"{parts:,.0f} of {produced:,.0f} parts ({min(coverage, 1):.0%}) inspected by vision "
        "in the last 30 days"
        if coverage is not None
        else "no quality.vision_inspected metrics in the last 30 days"
    )
    return Measurement(
        measured=True,
        value=_scale(tools, coverage),
        source="registry: adoptions; connectors: quality.vision_inspected, OT counters",
        detail=f"{_tools_text(tools, 'vision inspection')}; {data}",
        measured_at=now,
        inputs=inputs,
    )


def predictive_maintenance(factory: Factory, now: datetime) -> Measurement:
    """Predictive maintenance: predictive or CMMS tools adopted, and the share of the last
    90 days' maintenance work orders that a prediction or condition alert triggered
    (``maintenance.predictive_work_orders`` / ``maintenance.work_orders``)."""
    if (missing := _manufacturing_only(factory, "Predictive maintenance")) is not None:
        return missing
    predictive = adopted_tools(factory, now, PREDICTIVE_CAPABILITIES)
    cmms = adopted_tools(factory, now, CMMS_CAPABILITIES)
    sums = {
        row["metric"]: row["total"]
        for row in MetricSample.objects.filter(
            factory=factory,
            metric__in=[WORK_ORDERS, PREDICTIVE_WORK_ORDERS],
            period_end__gt=now - MAINTENANCE_WINDOW,
            period_end__lte=now,
        )
        .values("metric")
        .annotate(total=Sum("value"))
    }
    orders, predicted = sums.get(WORK_ORDERS), sums.get(PREDICTIVE_WORK_ORDERS)
    inputs = {
        "predictive_tools": predictive,
        "cmms_tools": cmms,
        "work_orders": orders,
        "predictive_work_orders": predicted,
        "window_days": 90,
    }
    if not predictive and not cmms and orders is None and not _has_adoptions(factory, now):
        return not_measured(
            "No adoptions in the registry and no maintenance metrics: nothing to judge by.",
            "registry, connectors",
            inputs,
        )
    tools = predictive + cmms
    if orders:
        coverage = (predicted or 0) / orders
        data = (
            f"{predicted or 0:,.0f} of {orders:,.0f} work orders ({min(coverage, 1):.0%}) "
            "triggered by predictions in the last 90 days"
        )
        value = _scale(tools, coverage)
    else:
        data = "no maintenance.work_orders metrics in the last 90 days"
        # A CMMS alone keeps maintenance preventive; only a predictive tool is a pilot.
        value = 0.25 if predictive else 0.0
    return Measurement(
        measured=True,
        value=value,
        source="registry: adoptions; connectors: maintenance.* metrics",
        detail=f"{_tools_text(tools, 'predictive maintenance or CMMS')}; {data}",
        measured_at=now,
        inputs=inputs,
    )


def ai_operations(factory: Factory, now: datetime) -> Measurement:
    """AI use cases running in operations: vision inspection and predictive maintenance with
    data landed, and each ``ai.*`` metric (one use case per key, e.g. ``ai.demand_forecast``)
    with samples in the last 30 days; an AI tool adopted without data counts as half (an
    experiment). Value = use cases in production + 0.5 for experiments."""
    recent = MetricSample.objects.filter(
        factory=factory, period_end__gt=now - RECENT, period_end__lte=now
    )
    ai_keys = sorted(
        set(recent.filter(metric__startswith=AI_PREFIX).values_list("metric", flat=True))
    )
    in_production = list(ai_keys)
    experiments = []
    if factory.kind == FactoryKind.MANUFACTURING:
        landed = set(
            MetricSample.objects.filter(
                factory=factory,
                metric__in=[VISION_INSPECTED, PREDICTIVE_WORK_ORDERS],
                period_end__gt=now - MAINTENANCE_WINDOW,
                period_end__lte=now,
                value__gt=0,
            ).values_list("metric", flat=True)
        )
        for label, metric, capabilities in (
            ("vision inspection", VISION_INSPECTED, VISION_CAPABILITIES),
            ("predictive maintenance", PREDICTIVE_WORK_ORDERS, PREDICTIVE_CAPABILITIES),
        ):
            if metric in landed:
                in_production.append(label)
            elif adopted_tools(factory, now, capabilities):
                experiments.append(label)
    inputs = {"in_production": in_production, "experiments": experiments}
    if not in_production and not experiments and not _has_adoptions(factory, now):
        return not_measured(
            "No adoptions in the registry and no AI metrics: nothing to judge by.",
            "registry, connectors",
            inputs,
        )
    value = len(in_production) + (0.5 if experiments else 0.0)
    detail = (
        f"{len(in_production)} AI use case(s) in production"
        + (f" ({', '.join(in_production)})" if in_production else "")
        + (f"; experiments: {', '.join(experiments)}" if experiments else "")
    )
    if not in_production and not experiments:
        detail += ": no ai.* metrics in the last 30 days" + (
            " and no vision or predictive tool with data"
            if factory.kind == FactoryKind.MANUFACTURING
            else ""
        )
    return Measurement(
        measured=True,
        value=value,
        source="registry: adoptions; connectors: ai.*, vision and maintenance metrics",
        detail=detail,
        measured_at=now,
        inputs=inputs,
    )


def _age(now: datetime, at: datetime) -> str:
    hours = max((now - at).total_seconds() / 3600, 0)
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} d"


def landing_sources(factory: Factory, now: datetime) -> dict[str, datetime]:
    """Every name data landed under for the factory in the 90 days before ``now``, with
    the newest landing: connectors with a successful sync (by name and by kind), and the
    ``source`` of metric samples, OT counters, work items and finance entries."""
    since = now - INTEGRATION_WINDOW
    found: dict[str, datetime] = {}

    def add(name: str, at: datetime | None) -> None:
        if name and at is not None and (name not in found or at > found[name]):
            found[name] = at

    runs = (
        SyncRun.objects.filter(
            connector__factory=factory,
            status__in=[SyncStatus.SUCCEEDED, SyncStatus.PARTIAL],
            finished_at__gt=since,
            finished_at__lte=now,
        )
        .values("connector__name", "connector__kind")
        .annotate(latest=Max("finished_at"))
    )
    for row in runs:
        add(row["connector__name"], row["latest"])
        add(row["connector__kind"], row["latest"])
    for model, end_field in ((MetricSample, "period_end"), (OTCounter, "period_end")):
        rows = (
            model.objects.filter(
                factory=factory, **{f"{end_field}__gt": since, f"{end_field}__lte": now}
            )
            .values("source")
            .annotate(latest=Max(end_field))
        )
        for row in rows:
            add(row["source"], row["latest"])
    for row in (
        WorkItem.objects.filter(factory=factory, created__gt=since, created__lte=now)
        .values("source")
        .annotate(latest=Max("created"))
    ):
        add(row["source"], row["latest"])
    for row in (
        FinanceEntry.objects.filter(factory=factory, date__gt=since.date(), date__lte=now.date())
        .values("source")
        .annotate(latest=Max("date"))
    ):
        add(row["source"], datetime.combine(row["latest"], datetime.min.time(), now.tzinfo))
    return found


def factory_tool_keys(tools: dict[int, str]) -> dict[int, set[str]]:
    """The resolution keys of the factory's tools: name, name without its vendor, aliases."""
    keys: dict[int, set[str]] = {pk: {normalize(name)} for pk, name in tools.items()}
    for pk, vendor in Tool.objects.filter(pk__in=tools).values_list("pk", "vendor"):
        if vendor:
            keys[pk].add(strip_vendor(normalize(tools[pk]), {normalize(vendor)}))
    for pk, alias in ToolAlias.objects.filter(tool_id__in=tools).values_list("tool_id", "name"):
        keys[pk].add(normalize(alias))
    return keys


def named_tool(source_key: str, names: dict[int, set[str]]) -> int | None:
    """The factory's one tool a landing name names by whole words, or None: "Ignition
    gateway" names Ignition, a "github" connector names GitHub Actions. Only the factory's
    own tools are candidates, and a short name (under four letters) must match whole."""
    padded = f" {source_key} "
    found = {
        pk
        for pk, keys in names.items()
        for key in keys
        if key and (f" {key} " in padded or (len(source_key) >= 4 and padded in f" {key} "))
    }
    return found.pop() if len(found) == 1 else None


def systems_integration(factory: Factory, now: datetime) -> Measurement:
    """Share of the factory's systems in the registry (the distinct tools of its active
    adoptions) that land data through a connector or an import in the 90 days before
    ``now``. A landing counts for a system when the connector's name or kind, or the facts'
    ``source``, resolves to the tool by the registry's name resolution, or names one of the
    factory's tools by whole words (``named_tool``); the detail gives each landing
    system's data freshness."""
    tools = dict(
        Adoption.objects.filter(
            factory=factory, status=AdoptionStatus.ACTIVE, tool__isnull=False, first_seen__lte=now
        )
        .values_list("tool_id", "tool__name")
        .distinct()
    )
    if not tools:
        return not_measured("No active adoptions resolved to registry tools.", "registry")
    sources = landing_sources(factory, now)
    names = factory_tool_keys(tools)
    resolver = registry_resolver()
    latest: dict[int, tuple[datetime, str]] = {}
    for match, at in zip(resolver.resolve_many(sources), sources.values(), strict=True):
        tool_id = match.tool_id if match.tool_id in tools else named_tool(match.key, names)
        if tool_id is not None and (tool_id not in latest or at > latest[tool_id][0]):
            latest[tool_id] = (at, match.name)
    landing = sorted(latest.items(), key=lambda item: item[1][0], reverse=True)
    missing = sorted(name for pk, name in tools.items() if pk not in latest)
    inputs = {
        "systems": len(tools),
        "landing": {tools[pk]: at.isoformat() for pk, (at, _src) in landing},
        "via": {tools[pk]: src for pk, (_at, src) in landing},
        "not_landing": missing,
        "window_days": 90,
    }
    fresh = ", ".join(f"{tools[pk]} {_age(now, at)} ago" for pk, (at, _src) in landing[:6])
    detail = f"{len(latest)} of {len(tools)} systems land data in 90 days" + (
        f" (newest: {fresh})" if fresh else ""
    )
    if missing:
        detail += "; not landing: " + ", ".join(missing[:6]) + ("…" if len(missing) > 6 else "")
    return Measurement(
        measured=True,
        value=len(latest) / len(tools),
        source="registry: adoptions; connectors: sync runs, landed facts",
        detail=detail,
        measured_at=max((at for at, _ in latest.values()), default=now),
        inputs=inputs,
    )
