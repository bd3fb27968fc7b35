"""The demo's evidence: the data each Northwind factory's audit is measured from.

Runs after the registry, connector and KPI demos and before the demo audits:

- **Registry history.** The CoE's tool census of 18 months ago is when the demo's adoptions,
  process adoptions and duplicate findings were first known, so an audit of a past date
  measures the registry as it stood then.
- **IT delivery and finance through connectors.** One local HTTP peer
  (``connectors.simulators.it_peers``) answers as GitLab, Jira Data Center and the SAP
  S/4HANA finance API. The software factories get a GitLab connector (production
  deployments) and, except the Redmine-run dealer portal, a Jira connector; every factory
  gets a finance REST connector. The history the KPI demo generated is served by the peer
  and landed by real syncs (the direct copies are removed), so connector health and the
  DORA, payback and integration signals are measured from connector-landed data.
- **Aarhus's test bench** publishes Sparkplug B from two Ignition Edge nodes (the MQTT
  simulator): 24 turbine and bench devices, each reporting the twin's ``twin.sync_lag_s``.
- **Imported metrics** (the ``import_metrics`` path, the system named as ``source``):
  historian, maintenance (Maximo, Senseye), vision inspection (Cognex at Pilsen, a third of
  the output), AI use cases and monitoring metrics of the software factories.

Deterministic (fixed seeds, dates relative to today) and idempotent: the demo's own facts
are replaced on every run; connectors are updated in place.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections import defaultdict

from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from assessments.selectors import add_months
from connectors.choices import SyncTrigger
from connectors.facts import Deployment, FinanceEntry, OTCounter, WorkItem
from connectors.imports import facts_import
from connectors.models import Connector, MetricSample
from connectors.services import connector_create, connector_update, sync_run_execute, sync_run_start
from connectors.simulators.it_peers import ITPeer
from connectors.simulators.mqtt import SparkplugDevice, SparkplugSimulator, broker
from registry.models import Adoption, DuplicateFinding, ProcessAdoption

LOCAL = ["127.0.0.0/8"]
CENSUS_MONTHS_AGO = 18
SOFTWARE = ["grid-analytics", "platform-coe", "customer-app", "dealer-portal"]
JIRA_KEYS = {"grid-analytics": "GA", "platform-coe": "PC", "customer-app": "CA"}
GITLAB = "GitLab production deployments"
JIRA = "Jira issues"
FINANCE = "SAP S/4HANA finance"
AARHUS = "Ignition"

# (factory, metric, unit, source, daily value as a function of (rng, day index 0 = oldest))
METRICS = [
    ("stuttgart-press", "historian.tags_archived", "tags", "PI System",
     lambda rng, i: 41000 + rng.randint(-300, 300)),
    ("pilsen-machining", "historian.tags_archived", "tags", "PI System",
     lambda rng, i: 9000 + rng.randint(-100, 100)),
    ("aarhus-turbines", "historian.tags_archived", "tags", "PI System",
     lambda rng, i: 18000 + rng.randint(-200, 200)),
    ("aarhus-turbines", "maintenance.work_orders", "orders", "IBM Maximo",
     lambda rng, i: rng.randint(1, 3)),
    ("aarhus-turbines", "twin.model_runs", "runs", "ANSYS Twin Builder",
     lambda rng, i: rng.randint(20, 30)),
    ("aarhus-turbines", "ai.blade_anomaly_detection", "alerts", "TurbineWatch",
     lambda rng, i: rng.randint(0, 4)),
    ("grid-analytics", "ai.demand_forecast", "MAPE %", "Grid forecast service",
     lambda rng, i: round(rng.uniform(3.5, 5.5), 2)),
    ("grid-analytics", "ai.grid_anomaly_detection", "alerts", "Grid forecast service",
     lambda rng, i: rng.randint(0, 6)),
    ("grid-analytics", "service.availability", "%", "Prometheus",
     lambda rng, i: round(rng.uniform(99.9, 100), 3)),
    ("customer-app", "service.availability", "%", "Prometheus",
     lambda rng, i: round(rng.uniform(99.5, 99.99), 3)),
    ("customer-app", "ai.product_recommendations", "clicks", "Recommendation service",
     lambda rng, i: rng.randint(800, 1500)),
    ("platform-coe", "service.availability", "%", "Prometheus",
     lambda rng, i: round(rng.uniform(99.95, 100), 3)),
    ("platform-coe", "code.coverage", "%", "SonarQube",
     lambda rng, i: round(70 + i * 0.05 + rng.uniform(-1, 1), 1)),
    ("platform-coe", "artifacts.published", "artifacts", "Artifactory",
     lambda rng, i: rng.randint(40, 90)),
    ("platform-coe", "incidents.pages", "pages", "PagerDuty",
     lambda rng, i: rng.randint(0, 3)),
    ("platform-coe", "ai.test_selection", "tests skipped %", "Pipeline AI",
     lambda rng, i: round(rng.uniform(35, 45), 1)),
    ("platform-coe", "ai.incident_triage", "incidents", "Pipeline AI",
     lambda rng, i: rng.randint(0, 3)),
    ("platform-coe", "ai.code_review_suggestions", "suggestions", "Pipeline AI",
     lambda rng, i: rng.randint(30, 80)),
]  # fmt: skip
METRIC_DAYS = 120
# Aarhus: share of the last 90 days' work orders raised by Senseye's predictions.
AARHUS_PREDICTIVE_SHARE = 0.7
# Pilsen: the Cognex station inspects the output of one line of three.
PILSEN_VISION_SHARE = 0.34


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def backdate_registry(factories: list, today: dt.date) -> None:
    """Date the demo registry to the CoE's census: what was known then was known since."""
    census = _day_start(add_months(today, -CENSUS_MONTHS_AGO))
    Adoption.objects.filter(factory__in=factories, first_seen__gt=census).update(first_seen=census)
    ProcessAdoption.objects.filter(factory__in=factories, adopted_on__gt=census.date()).update(
        adopted_on=census.date()
    )
    DuplicateFinding.objects.filter(first_detected__gt=census).update(first_detected=census)


def _upsert(factory, name: str, kind: str, settings: dict) -> Connector:
    connector = Connector.objects.filter(factory=factory, name=name).first()
    if connector is None:
        return connector_create(
            factory=factory, name=name, kind=kind, settings=settings, schedule="@daily"
        )
    connector.cursor = {}  # the peer serves the whole history again
    return connector_update(
        connector=connector, settings=settings, kind=kind, schedule="@daily", enabled=True
    )


def _sync(connector: Connector, stdout) -> None:
    run = sync_run_start(connector=connector, trigger=SyncTrigger.SCHEDULE, enqueue=False)
    run = sync_run_execute(run_id=run.pk)
    counts = ", ".join(f"{k} {v}" for k, v in run.counts.items() if v)
    stdout.write(
        f"  {connector.factory.slug} / {connector.name}: {run.status} ({counts}) {run.message}"
    )


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _serve_history(peer: ITPeer, factories: dict) -> dict[str, list]:
    """Move the KPI demo's generated history into the peer (and out of the database, where
    the connectors land it again); returns the connectors to configure per factory."""
    plan: dict[str, list] = defaultdict(list)
    for slug in SOFTWARE:
        factory = factories[slug]
        project = f"northwind/{slug}"
        fresh = Deployment.objects.filter(factory=factory, connector__isnull=True)
        landed = Deployment.objects.filter(factory=factory, connector__name=GITLAB)
        # Fresh history from the KPI demo replaces what the connector landed before; without
        # it (this step run alone) the peer serves the landed history again, unchanged.
        rows = fresh if fresh.exists() else landed
        peer.deployments[project] = [
            {
                "id": n,
                "status": d.status,
                "sha": d.commit_sha,
                "updated_at": _iso(d.finished_at),
                "environment": {"name": d.environment},
                "deployable": {
                    "finished_at": _iso(d.finished_at),
                    "commit": {"id": d.commit_sha, "created_at": _iso(d.commit_created_at)},
                },
            }
            for n, d in enumerate(rows.order_by("finished_at", "source_id"), start=1)
        ]
        if rows is fresh:
            fresh.delete()
            landed.delete()
        plan[slug].append(
            (
                GITLAB,
                "gitlab",
                {"project": project, "environment": "production", "initial_days": 400},
            )
        )
        if slug in JIRA_KEYS:
            key = JIRA_KEYS[slug]
            fresh_items = WorkItem.objects.filter(factory=factory, source="demo")
            landed_items = WorkItem.objects.filter(factory=factory, connector__name=JIRA)
            items = fresh_items if fresh_items.exists() else landed_items
            peer.issues[key] = [
                {
                    "key": f"{key}-{n}",
                    "fields": {
                        "created": _iso(w.created),
                        "updated": _iso(w.resolved or w.created),
                        "resolutiondate": _iso(w.resolved),
                        "status": {"name": w.status},
                        "issuetype": {"name": w.issue_type},
                        "project": {"key": key},
                    },
                }
                for n, w in enumerate(items.order_by("created", "key"), start=1)
            ]
            if items is fresh_items:
                fresh_items.delete()
                landed_items.delete()
            plan[slug].append(
                (
                    JIRA,
                    "jira",
                    {"flavour": "datacenter", "jql": f"project = {key}", "initial_days": 400},
                )
            )
    for slug, factory in factories.items():
        entries = FinanceEntry.objects.filter(factory=factory, source__in=["demo", "rest"])
        peer.finance[slug] = [
            {
                "date": e.date.isoformat(),
                "kind": e.kind,
                "amount": str(e.amount),
                "currency": e.currency,
                "category": e.category,
                "description": e.description,
            }
            for e in entries.order_by("date", "id")
        ]
        entries.delete()
        fields = ["date", "kind", "amount", "currency", "category", "description"]
        plan[slug].append(
            (
                FINANCE,
                "rest",
                {
                    "path": f"finance/{slug}",
                    "record": "finance",
                    "mapping": {f: f for f in fields},
                },
            )
        )
    return plan


def land_it_sources(factories: dict, stdout) -> None:
    """GitLab, Jira and finance connectors synced against the local IT peer."""
    # One line per sync is printed; httpx's own line per request would drown it.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with ITPeer() as peer:
        with transaction.atomic():
            plan = _serve_history(peer, factories)
        for slug, connectors in plan.items():
            factory = factories[slug]
            if factory.network_allowlist != LOCAL:
                factory.network_allowlist = LOCAL
                factory.save(update_fields=["network_allowlist"])
            for name, kind, settings in connectors:
                connector = _upsert(factory, name, kind, {"base_url": peer.base_url, **settings})
                _sync(connector, stdout)


def aarhus_nodes(rng: random.Random) -> dict[str, list[SparkplugDevice]]:
    """The test bench: turbine controllers and bench sensors on two Ignition Edge nodes,
    each device publishing the twin's sync lag (seconds the twin trails the asset)."""
    controllers = [
        SparkplugDevice(
            f"controller-{i:02d}",
            "Bachmann",
            "M1 MC220",
            f"BACH-{77100 + i}",
            rng.choice(["3.95", "3.95", "3.96"]),
            {"twin.sync_lag_s": round(rng.uniform(0.4, 2.5), 2)},
        )
        for i in range(1, 9)
    ]
    sensors = [
        SparkplugDevice(
            f"sensor-{i:02d}",
            "HBK",
            rng.choice(["QuantumX MX840B", "QuantumX MX1615B"]),
            f"HBK-{210400 + i}",
            "4.28",
            {"twin.sync_lag_s": round(rng.uniform(0.5, 3.0), 2)},
        )
        for i in range(1, 17)
    ]
    return {"bench-controllers": controllers, "bench-sensors": sensors}


def land_aarhus_bench(factory, stdout) -> None:
    """Aarhus's Ignition Edge nodes over Sparkplug B: devices plus the twin's lag per asset."""
    if factory.network_allowlist != LOCAL:
        factory.network_allowlist = LOCAL
        factory.save(update_fields=["network_allowlist"])
    nodes = aarhus_nodes(random.Random("northwind-aarhus-bench"))
    try:
        with (
            broker(prefer_local=True) as (host, port),
            SparkplugSimulator(host, port, "aarhus", nodes),
        ):
            settings = {"host": host, "port": port, "group_id": "aarhus", "listen_seconds": 2}
            _sync(_upsert(factory, AARHUS, "mqtt", settings), stdout)
    except (OSError, ConnectionError, TimeoutError) as exc:
        stdout.write(f"  aarhus-turbines: Sparkplug B simulator unavailable ({exc})")


def _metric_rows(factories: dict, today: dt.date) -> list[tuple[int, dict]]:
    rows: list[dict] = []
    first = today - dt.timedelta(days=METRIC_DAYS)
    for slug, metric, unit, source, value in METRICS:
        rng = random.Random(f"northwind-metric-{slug}-{metric}")
        for i in range(METRIC_DAYS):
            day = first + dt.timedelta(days=i)
            rows.append(
                {
                    "factory": slug,
                    "metric": metric,
                    "period_start": _day_start(day).isoformat(),
                    "period_end": _day_start(day + dt.timedelta(days=1)).isoformat(),
                    "value": value(rng, i),
                    "unit": unit,
                    "source": source,
                }
            )
    # Predictions raise about 70 % of Aarhus's work orders (Senseye, over Maximo's).
    rng = random.Random("northwind-senseye")
    orders = {
        (r["period_start"]): r["value"]
        for r in rows
        if r["factory"] == "aarhus-turbines" and r["metric"] == "maintenance.work_orders"
    }
    for start, count in orders.items():
        predicted = sum(1 for _ in range(count) if rng.random() < AARHUS_PREDICTIVE_SHARE)
        end = dt.datetime.fromisoformat(start) + dt.timedelta(days=1)
        rows.append(
            {
                "factory": "aarhus-turbines",
                "metric": "maintenance.predictive_work_orders",
                "period_start": start,
                "period_end": end.isoformat(),
                "value": predicted,
                "unit": "orders",
                "source": "Senseye",
            }
        )
    # Pilsen's Cognex station inspects one line's output: a third of the plant's parts.
    pilsen = factories["pilsen-machining"]
    daily = (
        OTCounter.objects.filter(factory=pilsen, period_start__date__gte=first)
        .annotate(day=TruncDate("period_start"))
        .values("day")
        .annotate(parts=Sum("total_count"))
        .order_by("day")
    )
    for row in daily:
        rows.append(
            {
                "factory": "pilsen-machining",
                "metric": "quality.vision_inspected",
                "period_start": _day_start(row["day"]).isoformat(),
                "period_end": _day_start(row["day"] + dt.timedelta(days=1)).isoformat(),
                "value": round(row["parts"] * PILSEN_VISION_SHARE),
                "unit": "parts",
                "source": "Cognex VisionPro",
            }
        )
    return list(enumerate(rows, start=2))


def land_metrics(factories: dict, today: dt.date, stdout) -> None:
    """The demo's imported metrics, replaced whole (the import path of ``import_metrics``)."""
    rows = _metric_rows(factories, today)
    sources = {r["source"] for _n, r in rows}
    with transaction.atomic():
        MetricSample.objects.filter(
            factory__in=factories.values(), source__in=sources, device__isnull=True
        ).delete()
        result = facts_import(kind="metrics", rows=rows)
    stdout.write(f"Evidence metrics: {result.created} samples imported from {len(sources)} systems")


def load_sources(core: dict, stdout, today: dt.date | None = None) -> None:
    """The data behind the demo audits (see the module docstring)."""
    today = today or timezone.localdate()
    factories = core["factories"]
    with transaction.atomic():
        backdate_registry(list(factories.values()), today)
    stdout.write("Evidence sources: IT and finance connectors against a local peer")
    land_it_sources(factories, stdout)
    land_aarhus_bench(factories["aarhus-turbines"], stdout)
    land_metrics(factories, today, stdout)
