"""The pure planner's last step: the rows a batch writes (no database, no ORM).

Given where each changed record goes and the current rows of the devices involved, it
recomputes every touched device from all its source records, records each changed field
as history, supersedes this connector's records of the same machine under other source
ids, and recomputes (or marks stale) the devices records left.
"""

from __future__ import annotations

from connectors.ingest.planner import BatchPlan, Context, Identified, Known
from connectors.ingest.rules import (
    STALE,
    Norm,
    Source,
    reconcile,
    same_identity,
    serial_of,
)

UPLOAD = "upload"  # an upload says a device existed, not that it is still there


class _Rows:
    """Builds one batch's rows; see :func:`build`."""

    def __init__(self, ctx: Context, plan: BatchPlan, known: dict[str, Known], reported: set):
        self.ctx = ctx
        self.plan = plan
        self.known = known
        self.reported = reported  # every source id this connector reported in the run
        # device → {(connector id, source id): Source}; record metadata for rewrites.
        self.records: dict[int | str, dict[tuple[int, str], Source]] = {}
        self.meta: dict[tuple[int, str], tuple] = {}

    # --- history ------------------------------------------------------------------------
    def change(self, device, name, old, new, winners, source: str = "") -> dict:
        return {
            "device_id": device,
            "field": name,
            "old": old,
            "new": new,
            "source": source or winners.get(name, "") or self.ctx.kind,
            "run_id": self.ctx.run_id,
            "at": self.ctx.now,
        }

    def apply(self, current: dict, values: dict, winners: dict) -> bool:
        """Set a device row's reconciled ``values``, recording each change. Whether any."""
        changed = False
        for name, new in values.items():
            old = current[name] or ""
            if old != new:
                current[name] = new
                changed = True
                if name != "serial_normalised":
                    self.plan.changes.append(self.change(current["id"], name, old, new, winners))
        return changed

    # --- source records -----------------------------------------------------------------
    def load(self, sources: list[tuple]) -> None:
        """The stored source records of the devices involved (``lookups.SOURCE_ROW``)."""
        for pk, device_id, kind, cid, sid, data, digest, last_seen, missing in sources:
            self.records.setdefault(device_id, {})[(cid, sid)] = Source(
                kind, cid, sid, data, last_seen, missing is not None
            )
            self.meta[(cid, sid)] = (pk, device_id, digest, last_seen, missing)

    def merge(self, merges: dict[int, int], keys: dict, batch_ids: set[str]) -> None:
        """Move the merged devices' source records to the devices they merge into (those of
        this batch's own records move with them anyway) and mark each merge in history."""
        for merged, into in sorted(merges.items()):
            for (cid, sid), source in self.records.pop(merged, {}).items():
                self.records.setdefault(into, {})[(cid, sid)] = source
                if cid == self.ctx.connector_id and sid in batch_ids:
                    continue
                pk, _, digest, last_seen, missing = self.meta[(cid, sid)]
                self.plan.changed_records.append(
                    {"id": pk, "device_id": into, "data": source.data, "data_hash": digest,
                     "last_seen": last_seen, "missing_since": missing}
                )  # fmt: skip
            self.plan.merges.append((merged, into))
            # History: "merged: MAC aa:… → serial SN…" (the merged device's id is gone).
            self.plan.changes.append(self.change(into, "merged", *keys[merged], {}, self.ctx.kind))

    def supersede(self, device: int, arrivals: list[Norm]) -> None:
        """This connector's other records of ``device`` that the run has not reported and
        that name the same machine as a record that arrived on it (see
        :func:`~connectors.ingest.rules.same_identity`): the machine now answers under
        another source id, so they are marked missing (with this run's time) and take no
        part in precedence."""
        ctx = self.ctx
        for (cid, sid), source in list(self.records.get(device, {}).items()):
            if cid != ctx.connector_id or sid in self.reported or source.missing:
                continue
            if not any(same_identity(source.data, norm) for norm in arrivals):
                continue
            pk, _, digest, last_seen, _missing = self.meta[(cid, sid)]
            self.records[device][(cid, sid)] = source._replace(missing=True)
            self.plan.changed_records.append(
                {"id": pk, "device_id": device, "data": source.data, "data_hash": digest,
                 "last_seen": last_seen, "missing_since": ctx.now}
            )  # fmt: skip

    def place(self, norm: Norm, target) -> bool:
        """Put a changed record on its device; whether the device gains it (new or moved)."""
        ctx = self.ctx
        old = self.known.get(norm.source_id)
        key = (ctx.connector_id, norm.source_id)
        if old and old.device_id != target and old.device_id in self.records:
            self.records[old.device_id].pop(key, None)
        self.records.setdefault(target, {})[key] = Source(
            ctx.kind, ctx.connector_id, norm.source_id, norm.data, ctx.now, False
        )
        if old is None:
            self.plan.new_records.append(self.new_record(norm, target))
            return True
        if old.digest != norm.digest or old.device_id != target:
            self.plan.changed_records.append(
                {"id": old.record_id, "device_id": target, "data": norm.data,
                 "data_hash": norm.digest, "last_seen": ctx.now, "missing_since": None}
            )  # fmt: skip
        return old.device_id != target

    def new_record(self, norm: Norm, target) -> dict:
        ctx = self.ctx
        return {
            "device_id": target,
            "connector_id": ctx.connector_id,
            "source_kind": ctx.kind,
            "source_id": norm.source_id,
            "data": norm.data,
            "data_hash": norm.digest,
            "first_seen": ctx.now,
            "last_seen": ctx.now,
        }

    def new_device(self, key: str, values: dict, serial: str, status: str) -> dict:
        ctx = self.ctx
        row = {"key": key, "factory_id": ctx.factory_id, **values}
        row.update(serial_normalised=serial, status=status, first_seen=ctx.now,
                   last_seen=ctx.now, updated_at=ctx.now)  # fmt: skip
        self.plan.new_devices.append(row)
        return row

    def lean_device(self, key: str, norm: Norm) -> None:
        """A new device that one new record feeds: its fields are the record's (a junk
        serial stands for no serial); the row is the record's data with the device's
        columns added (the data holds each of :data:`FIELDS` and the status)."""
        ctx = self.ctx
        now = ctx.now
        row = {**norm.data, "key": key, "factory_id": ctx.factory_id,
               "serial_normalised": norm.serial, "first_seen": now, "last_seen": now,
               "updated_at": now}  # fmt: skip
        if not norm.serial:
            row["serial_number"] = ""
        self.plan.new_devices.append(row)

    # --- devices ------------------------------------------------------------------------
    def reporting(self, device) -> bool:
        """Whether a record still reports the device (not missing, not an upload)."""
        return any(
            not s.missing and s.kind != UPLOAD for s in self.records.get(device, {}).values()
        )

    def recompute(self, target, status: str, status_source: str, current: dict | None) -> bool:
        """Reconcile a device the batch's records go to; whether it changed."""
        ctx = self.ctx
        values, winners = reconcile(self.records[target].values(), ctx.ranks)
        values["serial_normalised"] = serial_of(values["serial_number"])
        if current is None:  # new in this batch
            self.new_device(target, {k: v for k, v in values.items() if k != "serial_normalised"},
                            values["serial_normalised"], status)  # fmt: skip
            return True
        changed = self.apply(current, values, winners)
        if current["status"] != status:
            self.plan.changes.append(
                self.change(target, "status", current["status"], status, {}, status_source)
            )
            current["status"] = status
            changed = True
        if changed or current["last_seen"] < ctx.cutoff:
            current.update(last_seen=ctx.now, updated_at=ctx.now, factory_id=ctx.factory_id)
            self.plan.changed_devices.append(current)
        return changed

    def left_behind(self, pk: int, current: dict) -> None:
        """A device a record left: recomputed from the records it keeps; stale when none of
        them still reports it."""
        ctx = self.ctx
        changed = False
        if self.records.get(pk):
            values, winners = reconcile(self.records[pk].values(), ctx.ranks)
            values["serial_normalised"] = serial_of(values["serial_number"])
            changed = self.apply(current, values, winners)
        if not self.reporting(pk) and current["status"] != STALE:
            self.plan.changes.append(self.change(pk, "status", current["status"], STALE, {}))
            current["status"] = STALE
            changed = True
        if changed:
            current.update(updated_at=ctx.now, factory_id=ctx.factory_id)
            self.plan.changed_devices.append(current)


def build(
    ctx: Context,
    plan: BatchPlan,
    identified: Identified,
    known: dict[str, Known],
    devices: dict[int, dict],
    sources: list[tuple],
    left: set[int],
    reported: set[str],
    counts: dict,
    seen: set[int],
) -> None:
    """Fill ``plan`` with the rows of the batch's changed records; update ``counts`` and
    ``seen`` (the existing devices the batch confirms)."""
    rows = _Rows(ctx, plan, known, reported)
    rows.load(sources)
    if identified.merges:
        batch_ids = {n.source_id for n, _ in identified.targets}
        rows.merge(identified.merges, identified.merge_keys, batch_ids)
    lean, statuses, gained = _place_all(rows, identified)
    for device in sorted(d for d in gained if type(d) is int):
        rows.supersede(device, gained[device])
    touched: dict[int | str, bool] = {}
    for target, (status, source) in statuses.items():
        touched[target] = rows.recompute(target, status, source, devices.get(target))
    for pk in sorted(left):
        if pk in devices:
            rows.left_behind(pk, devices[pk])
    _count(identified, known, lean, touched, counts, seen)
    for row in plan.changed_devices:  # the serials and MACs the devices end with
        if row["serial_normalised"]:
            plan.serials.add(row["serial_normalised"])
        if row["mac"]:
            plan.macs.add(row["mac"])


def _place_all(rows: _Rows, identified: Identified):
    """Place every changed record; a new device fed by one new record only needs no
    reconciling (the record wins every field it fills): it takes the lean path."""
    lean: set[str] = set()
    statuses: dict[int | str, tuple[str, str]] = {}
    gained: dict[int | str, list[Norm]] = {}  # device → records that arrived on it
    for norm, target in identified.targets:
        if identified.feeds.get(target) == 1 and norm.source_id not in rows.known:
            rows.lean_device(target, norm)
            rows.plan.new_records.append(rows.new_record(norm, target))
            lean.add(target)
            continue
        if rows.place(norm, target):
            gained.setdefault(target, []).append(norm)
        statuses[target] = (norm.status, rows.ctx.kind)
    return lean, statuses, gained


def _count(identified, known, lean, touched, counts, seen) -> None:
    counts["created"] += len(lean)
    for norm, target in identified.targets:
        if target in lean:
            continue
        if isinstance(target, str):
            counts["created" if touched.get(target) else "updated"] += 1
            touched[target] = False  # later records of the same new device: updates
        else:
            old = known.get(norm.source_id)
            record_changed = not old or old.digest != norm.digest or old.device_id != target
            counts["updated" if touched[target] or record_changed else "unchanged"] += 1
            seen.add(target)


def recompute_devices(ctx: Context, devices: dict[int, dict], sources: list[tuple]) -> BatchPlan:
    """After records of ``devices`` were marked missing: each device is recomputed from
    the records that still report it (missing ones take no part), and goes stale when
    none does. The rows to write."""
    plan = BatchPlan()
    rows = _Rows(ctx, plan, {}, set())
    rows.load(sources)
    for pk in sorted(devices):
        rows.left_behind(pk, devices[pk])
    return plan
