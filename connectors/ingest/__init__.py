"""The one ingest step every adapter feeds: identify, reconcile, write, history, staleness.

Adapters yield plain records; an :class:`IngestSession` (``session.py``) takes them in
batches. Each batch is planned by the pure planner (``planner.py`` and ``rows.py``: plain
data in, a plan out, rules in ``rules.py``) with the lookups it needs (``lookups.py``),
and written through the project's bulk-write module (``writers.py``), in turn or by
background writers (``pipeline.py``). After a complete full sync, ``staleness.py`` marks
the connector's unreported records missing and devices nothing reports stale. The rules
of identity over time are documented in ``docs/connectors.md``.
"""

from connectors.ingest.planner import BatchPlan
from connectors.ingest.rules import (
    DEFAULT_PRECEDENCE,
    FIELD_PRECEDENCE,
    FIELDS,
    last_seen_resolution,
    precedence_table,
    raw_digest,
    reconcile,
)
from connectors.ingest.session import MAX_ERRORS, IngestSession, default_batch_size
from connectors.ingest.writers import write_batch

__all__ = [
    "DEFAULT_PRECEDENCE",
    "FIELDS",
    "FIELD_PRECEDENCE",
    "MAX_ERRORS",
    "BatchPlan",
    "IngestSession",
    "default_batch_size",
    "last_seen_resolution",
    "precedence_table",
    "raw_digest",
    "reconcile",
    "write_batch",
]
