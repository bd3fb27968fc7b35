"""Ingest of delivery and money facts next to the shared device ingest.

Adapters of software sources (GitLab, Jira) yield :class:`DeploymentRecord` and
:class:`WorkItemRecord`, finance sources (REST) :class:`FinanceRecord`;
:class:`FactIngestSession` is the shared
:class:`~connectors.ingest.IngestSession` that also lands those, in bulk, keyed by their
natural keys (re-syncing the same data writes nothing). An adapter class names it as its
``session_class``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import transaction

from coe import bulk, derived
from connectors.facts import Deployment, WorkItem
from connectors.imports import ImportRejected, facts_import
from connectors.ingest import IngestSession


@dataclass(slots=True)
class DeploymentRecord:
    """One deployment as the source reports it (``status`` success | failed | …)."""

    source_id: str
    environment: str
    status: str
    finished_at: datetime
    commit_sha: str = ""
    commit_created_at: datetime | None = None


@dataclass(slots=True)
class WorkItemRecord:
    """One issue: creation, resolution (None while open), team; ``kind`` issue | incident."""

    key: str
    created: datetime
    resolved: datetime | None = None
    team: str = ""
    issue_type: str = ""
    status: str = ""
    kind: str = "issue"


@dataclass(slots=True)
class FinanceRecord:
    """One investment or benefit of the connector's factory (``kind`` investment | benefit)."""

    date: date
    kind: str
    amount: Decimal
    currency: str = ""
    category: str = ""
    description: str = ""


# A deployment's month, and the month before it (whose failures it may restore).
RESTORE_SPAN = (timedelta(0), timedelta(days=30))

DEPLOYMENT_FIELDS = ["status", "finished_at", "commit_sha", "commit_created_at", "connector_id"]
WORK_ITEM_FIELDS = ["kind", "team", "issue_type", "status", "created", "resolved", "connector_id"]


class FactIngestSession(IngestSession):
    """The shared ingest session, also landing deployments and work items."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._deployments: dict[tuple[str, str], DeploymentRecord] = {}
        self._work_items: dict[str, WorkItemRecord] = {}
        self._finance: list[FinanceRecord] = []
        self.facts = {"created": 0, "updated": 0, "unchanged": 0}

    def add(self, item) -> None:
        if isinstance(item, DeploymentRecord):
            self._deployments[(item.environment, item.source_id)] = item
            if len(self._deployments) >= self.batch_size:
                self.flush()
        elif isinstance(item, FinanceRecord):
            self._finance.append(item)
            if len(self._finance) >= self.batch_size:
                self.flush()
        elif isinstance(item, WorkItemRecord):
            self._work_items[item.key] = item
            if len(self._work_items) >= self.batch_size:
                self.flush()
        else:
            super().add(item)

    def flush(self) -> None:
        super().flush()
        if self._deployments:
            batch, self._deployments = list(self._deployments.values()), {}
            self._land_deployments(batch)
            self.processed += len(batch)
        if self._work_items:
            batch, self._work_items = list(self._work_items.values()), {}
            self._land_work_items(batch)
            self.processed += len(batch)
        if self._finance:
            batch, self._finance = self._finance, []
            self._land_finance(batch)
            self.processed += len(batch)

    def _land_finance(self, batch: list[FinanceRecord]) -> None:
        """Finance rows through the same checks and natural key as the file imports; a bad
        row is rejected with its reason and the others land."""
        rows = [
            (
                n,
                {
                    "date": r.date,
                    "kind": r.kind,
                    "category": r.category,
                    "amount": r.amount,
                    "currency": r.currency,
                    "description": r.description,
                },
            )
            for n, r in enumerate(batch, 1)
        ]
        try:
            result = facts_import(
                kind="finance", rows=rows, default_factory=self.connector.factory, source=self.kind
            )
        except ImportRejected as exc:
            bad = {int(line.split(":")[0].split()[1]) for line in exc.errors}
            for line in exc.errors:
                self.reject("", line)
            good = [row for row in rows if row[0] not in bad]
            if not good:
                return
            result = facts_import(
                kind="finance", rows=good, default_factory=self.connector.factory, source=self.kind
            )
        self._count(result.created, result.updated, result.unchanged)

    def _count(self, new: int, changed: int, unchanged: int) -> None:
        for key, value in (("created", new), ("updated", changed), ("unchanged", unchanged)):
            self.counts[key] += value
            self.facts[key] += value

    @transaction.atomic
    def _land_deployments(self, batch: list[DeploymentRecord]) -> None:
        stored = {
            (row["environment"], row["source_id"]): row
            for row in Deployment.objects.filter(
                factory_id=self.factory_id, source_id__in={r.source_id for r in batch}
            ).values("environment", "source_id", *DEPLOYMENT_FIELDS)
        }
        rows, new, changed = [], 0, 0
        for record in batch:
            values = {
                "status": record.status[:12],
                "finished_at": record.finished_at,
                "commit_sha": record.commit_sha[:64],
                "commit_created_at": record.commit_created_at,
                "connector_id": self.connector.pk,
            }
            current = stored.get((record.environment, record.source_id))
            if current is not None and all(current[k] == v for k, v in values.items()):
                continue
            new += current is None
            changed += current is not None
            rows.append(
                Deployment(
                    factory_id=self.factory_id,
                    environment=record.environment[:120],
                    source_id=record.source_id[:120],
                    **values,
                )
            )
        bulk.upsert(Deployment, rows, ["factory", "environment", "source_id"], DEPLOYMENT_FIELDS)
        if rows:  # a deployment restores the failures of its month and of the month before
            moved = [
                stored[(r.environment, r.source_id)]
                for r in rows
                if (r.environment, r.source_id) in stored
            ]
            times = [r.finished_at for r in rows] + [row["finished_at"] for row in moved]
            derived.touch([self.factory_id], {t - d for t in times for d in RESTORE_SPAN})
        self._count(new, changed, len(batch) - new - changed)

    @transaction.atomic
    def _land_work_items(self, batch: list[WorkItemRecord]) -> None:
        source = self.kind
        stored = {
            row["key"]: row
            for row in WorkItem.objects.filter(
                factory_id=self.factory_id, source=source, key__in={r.key for r in batch}
            ).values("key", *WORK_ITEM_FIELDS)
        }
        rows, new, changed = [], 0, 0
        for record in batch:
            values = {
                "kind": record.kind,
                "team": record.team[:120],
                "issue_type": record.issue_type[:60],
                "status": record.status[:60],
                "created": record.created,
                "resolved": record.resolved,
                "connector_id": self.connector.pk,
            }
            current = stored.get(record.key)
            if current is not None and all(current[k] == v for k, v in values.items()):
                continue
            new += current is None
            changed += current is not None
            rows.append(
                WorkItem(factory_id=self.factory_id, source=source, key=record.key[:120], **values)
            )
        bulk.upsert(WorkItem, rows, ["factory", "source", "key"], WORK_ITEM_FIELDS)
        written = {r.key for r in rows}
        incidents = [r.created for r in rows if r.kind == "incident"]
        incidents += [
            row["created"]
            for key, row in stored.items()
            if key in written and row["kind"] == "incident"
        ]
        if incidents:  # incidents are failures of the DORA keys
            derived.touch([self.factory_id], set(incidents))
        self._count(new, changed, len(batch) - new - changed)
