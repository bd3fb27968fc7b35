"""Background writers: each planned batch is written by a thread with its own database
connection, in its own transaction, while the session plans the next batch, so the
database's work (COPY, index upkeep, foreign-key checks at commit) overlaps Python's
(normalising, hashing, identifying). PostgreSQL only, outside a caller's transaction,
``CONNECTOR_INGEST_WRITERS`` threads (0: every batch is written in turn)."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from connectors.ingest.planner import BatchPlan
from connectors.ingest.writers import write_batch
from connectors.records import DeviceRecord

if TYPE_CHECKING:
    from connectors.ingest.session import IngestSession


@dataclass(slots=True)
class InFlight:
    """A batch being written in the background: what to count once it is committed."""

    batch: list[DeviceRecord]
    plan: BatchPlan
    counts: dict
    seen: set[int]
    future: Future


class BatchWriter:
    """One background thread with its own database connection."""

    def __init__(self):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-writer")

    def submit(self, plan: BatchPlan) -> Future:
        return self._pool.submit(self._write, plan)

    @staticmethod
    def _write(plan: BatchPlan) -> None:
        with transaction.atomic():
            write_batch(plan)

    def close(self) -> None:
        try:
            # ``connection`` is looked up in the writer's thread: its own connection.
            self._pool.submit(lambda: connection.close()).result()
        finally:
            self._pool.shutdown(wait=True)


class Pipeline:
    """Plans a session's device batches and has them written, in turn or in the
    background; counts each batch on the session once it is committed."""

    def __init__(self, session: IngestSession):
        self.session = session
        self.writers: list[BatchWriter] = []
        self.in_flight: list[InFlight] = []  # oldest first

    def writer_count(self) -> int:
        """``CONNECTOR_INGEST_WRITERS`` on PostgreSQL outside a caller's transaction (each
        batch commits on its own, on a writer's connection, so a caller's atomic block
        could not hold them); else 0."""
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            return 0
        return max(0, settings.CONNECTOR_INGEST_WRITERS)

    def ingest(self, batch: list[DeviceRecord]) -> None:
        session = self.session
        writers = self.writer_count()
        if not writers:
            self.drain()
            self.write_now(batch)
            return
        plan, counts, seen = session.plan_batch(batch, session.first_load())
        if any(pending.plan.overlaps(plan) for pending in self.in_flight):
            # A batch being written touches what this one read: plan it again on what
            # that batch commits, with every lookup.
            self.drain()
            self.write_now(batch, lookups=True)
            return
        while len(self.in_flight) >= writers:
            if self.wait_oldest():
                # A batch failed its optimistic write and was planned again in full:
                # this plan may rest on what that batch was going to write.
                self.write_now(batch)
                return
        if plan.is_empty():
            session.done(batch, counts, seen)
            return
        while len(self.writers) < writers:
            self.writers.append(BatchWriter())
        # Round robin: the writer of the batch just waited for (or an idle one).
        writer = self.writers[session.background_batches % writers]
        session.background_batches += 1
        self.in_flight.append(InFlight(batch, plan, counts, seen, writer.submit(plan)))

    def wait_oldest(self) -> bool:
        """Wait for the oldest batch in flight and count it; on a failure, wait for all
        (see :meth:`drain`). Returns whether a batch had to be written again."""
        pending = self.in_flight[0]
        if pending.future.exception() is not None:
            return self.drain()
        self.in_flight.pop(0)
        self.session.done(pending.batch, pending.counts, pending.seen, pending.plan)
        return False

    def drain(self) -> bool:
        """Wait for every batch in flight and count it. A batch whose (optimistic) write
        met a unique constraint is planned again in full and written here, once all are
        committed. Returns whether one was; raises any other error of a write."""
        failed: list[InFlight] = []
        error: BaseException | None = None
        while self.in_flight:
            pending = self.in_flight.pop(0)
            exc = pending.future.exception()
            if isinstance(exc, IntegrityError):
                failed.append(pending)
            elif exc is not None:
                error = error or exc
            else:
                self.session.done(pending.batch, pending.counts, pending.seen, pending.plan)
        if error is not None:
            raise error
        if failed:
            self.session.optimistic = False
            self.session.replanned_batches += len(failed)
        for pending in failed:
            self.write_now(pending.batch)
        return bool(failed)

    def write_now(self, batch: list[DeviceRecord], *, lookups: bool = False) -> None:
        """Plan and write one batch in one transaction on this thread's connection;
        ``lookups``: with every lookup even on a first load (the batch met others)."""
        session = self.session
        for attempt in range(2):
            try:
                with transaction.atomic():
                    optimistic = not attempt and not lookups and session.first_load()
                    plan, counts, seen = session.plan_batch(batch, optimistic)
                    write_batch(plan)
                break
            except IntegrityError:
                # Another connector of the factory created one of these serials meanwhile
                # (or, optimistically planned, the data met itself again): identify again
                # against what is committed, with every lookup from now on.
                session.optimistic = False
                session.replanned_batches += 1
                if attempt:
                    raise
        session.done(batch, counts, seen, plan)

    def close(self) -> None:
        """Wait for the batches in flight, then end the writer threads and their database
        connections. Raises what a write raised."""
        try:
            self.drain()
        finally:
            writers, self.writers = self.writers, []
            for writer in writers:
                writer.close()
