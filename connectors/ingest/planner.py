"""The pure planner: plain data in, a plan out (no database, no ORM).

A batch is planned in three steps, with lookups in between (see ``session.py``):

1. :func:`split` — records whose source record exists with the same hash, on a device in
   the right status that was seen recently, are unchanged; the rest are normalised;
2. :func:`prepare` and :func:`identify` — each changed record finds its device: by
   normalised serial, then MAC, then the device its source id was on (unless it now
   reports another identity: :func:`~connectors.ingest.rules.identity_changed`),
   else a new one;
3. :func:`~connectors.ingest.rows.build` — the rows to write: devices recomputed from
   all their source records, history, superseded records, devices left behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from hashlib import md5
from typing import NamedTuple

from connectors.ingest.rules import (
    ACTIVE,
    OFFLINE,
    Norm,
    identity_changed,
    keep_real_identity,
    normalise,
    raw_text,
)
from connectors.records import DeviceRecord


@dataclass(frozen=True)
class Context:
    """Who plans and when: the connector, its factory, the run, the time and the rules."""

    connector_id: int
    kind: str
    factory_id: int
    now: datetime
    cutoff: datetime  # devices seen before this get their last_seen moved
    run_id: int | None
    ranks: dict


class Known(NamedTuple):
    """This connector's existing source record for a source id, and its device's state."""

    record_id: int
    device_id: int
    digest: str  # "" when the record is marked missing
    status: str = ""
    fresh: bool | int = False  # seen since the cutoff (1/0 as the database returns it)


@dataclass
class BatchPlan:
    """Rows one batch writes. Device and source-record rows are dicts of column values."""

    new_devices: list[dict] = field(default_factory=list)
    changed_devices: list[dict] = field(default_factory=list)
    new_records: list[dict] = field(default_factory=list)
    changed_records: list[dict] = field(default_factory=list)
    changes: list[dict] = field(default_factory=list)
    # Devices merged into another: (merged device, device it is merged into).
    merges: list[tuple[int, int]] = field(default_factory=list)
    # What the plan read or writes, for the pipeline's overlap check (see ``overlaps``).
    source_ids: set[str] = field(default_factory=set)
    serials: set[str] = field(default_factory=set)
    macs: set[str] = field(default_factory=set)
    device_ids: set[int] = field(default_factory=set)

    def overlaps(self, other: BatchPlan) -> bool:
        """Whether the two plans share a source id, serial, MAC or existing device: then
        the later one must be planned after the earlier one is committed."""
        return not (
            self.source_ids.isdisjoint(other.source_ids)
            and self.serials.isdisjoint(other.serials)
            and self.macs.isdisjoint(other.macs)
            and self.device_ids.isdisjoint(other.device_ids)
        )

    def is_empty(self) -> bool:
        return not (
            self.new_devices
            or self.changed_devices
            or self.new_records
            or self.changed_records
            or self.changes
            or self.merges
        )


def split(batch: list[DeviceRecord], known: dict[str, Known]) -> tuple[list[Norm], dict, set[int]]:
    """The batch's changed records (normalised), its counts so far and the devices its
    unchanged records confirm. Each record is read once: its raw text is hashed and, when
    it changed, normalised from the same text."""
    unchanged = 0
    seen: set[int] = set()
    dirty: list[Norm] = []
    get = known.get
    for record in batch:
        raw = raw_text(record)
        digest = md5(raw.encode(), usedforsecurity=False).hexdigest()
        row = get(record.source_id)
        if (
            row
            and row.digest == digest
            and row.fresh
            and row.status == (OFFLINE if record.online is False else ACTIVE)
        ):
            unchanged += 1
            seen.add(row.device_id)
        else:
            dirty.append(normalise(record, digest, raw))
    return dirty, {"created": 0, "updated": 0, "unchanged": unchanged}, seen


def prepare(dirty: list[Norm], known: dict[str, Known], previous: dict[int, dict]) -> set[str]:
    """Compare each changed record with what its source id said before (``previous``:
    ``{record id: data}``). Returns the source ids that now name another machine (they
    are identified afresh); the others keep a real serial or MAC they now report as junk."""
    reidentified: set[str] = set()
    for norm in dirty:
        row = known.get(norm.source_id)
        if row is None:
            continue
        before = previous.get(row.record_id) or {}
        if identity_changed(before, norm):
            reidentified.add(norm.source_id)
        else:
            keep_real_identity(before, norm)
    return reidentified


@dataclass
class Found:
    """Existing devices the batch's identities name."""

    by_serial: dict[str, int] = field(default_factory=dict)
    by_mac: dict[str, tuple[int, str]] = field(default_factory=dict)  # (id, its serial)


@dataclass
class Identified:
    """Each changed record's device: an existing id or a key ``"new:N"`` of a new one."""

    targets: list[tuple[Norm, int | str]]
    feeds: dict[str, int]  # new device → how many of the batch's records feed it
    merges: dict[int, int]  # serial-less device found by MAC → device of the serial
    merge_keys: dict[int, tuple[str, str]]


class _Identifier:
    """The state of identifying one batch (devices new in it, folds, merges)."""

    def __init__(self, known: dict[str, Known], reidentified: set[str], found: Found):
        self.known = known
        self.reidentified = reidentified
        self.by_serial = found.by_serial
        self.by_mac = found.by_mac
        self.new_by_serial: dict[str, str] = {}
        self.new_by_mac: dict[str, str] = {}
        self.new_serials: dict[str, str] = {}  # new device → its serial
        # A device found by MAC but with no serial, when the record's serial found another
        # device: the same machine, seen before without its serial. It is merged into the
        # device of the serial (its source records, samples and history move there).
        self.merges: dict[int, int] = {}
        self.merge_keys: dict[int, tuple[str, str]] = {}
        # The same within the batch: a device new in it folds into the one it turned out
        # to be (its records follow).
        self.folded: dict[str, int | str] = {}

    def resolve(self, key):
        folded = self.folded
        while key in folded:
            key = folded[key]
        return key

    def by_identity(self, serial: str, mac: str) -> int | str | None:
        """The device a serial, then a MAC, names (existing or new in the batch)."""
        target = None
        folded = self.folded
        if serial:
            target = self.by_serial.get(serial)
            if target is None:
                target = self.new_by_serial.get(serial)
                if target in folded:
                    target = self.resolve(target)
        if mac and mac in self.by_mac:
            by_this_mac, mac_serial = self.by_mac[mac]
            if target is None:
                # Two serials that differ are two machines, whatever their MACs (a
                # gateway's MAC, a cloned image): the MAC only identifies when one side
                # has no serial.
                if not serial or not mac_serial:
                    target = by_this_mac
            elif type(target) is int and by_this_mac != target and not mac_serial:
                self.merges[by_this_mac] = target
                self.merge_keys[by_this_mac] = (f"MAC {mac}", f"serial {serial}")
        if target is None and mac:
            new = self.new_by_mac.get(mac)
            if new in folded:
                new = self.resolve(new)
            if new is not None and (not serial or not self.new_serials.get(new)):
                target = new
        elif serial and mac and target is not None:
            target = self._fold(target, mac)
        return target

    def _fold(self, target: int | str, mac: str) -> int | str:
        """A record with both serial and MAC joins what the two named separately."""
        new = self.resolve(self.new_by_mac.get(mac))
        if new is not None and new != target and not self.new_serials.get(new):
            self.folded[new] = target
        elif (
            type(target) is str
            and mac in self.by_mac
            and not self.by_mac[mac][1]
            and self.by_mac[mac][0] not in self.merges
        ):
            self.folded[target] = self.by_mac[mac][0]
            return self.by_mac[mac][0]
        return target

    def target(self, norm: Norm, index: int) -> int | str:
        serial, mac = norm.serial, norm.mac
        target = self.by_identity(serial, mac)
        if target is None:
            row = self.known.get(norm.source_id)
            if row is not None and norm.source_id not in self.reidentified:
                target = row.device_id  # the same machine under its source id
            else:
                target = f"new:{index}"
        if type(target) is str:
            if serial:
                self.new_by_serial.setdefault(serial, target)
                self.new_serials.setdefault(target, serial)
            if mac:
                self.new_by_mac.setdefault(mac, target)
        return target


def identify(
    dirty: list[Norm], known: dict[str, Known], reidentified: set[str], found: Found
) -> Identified:
    """Each changed record's device (see the module's docstring)."""
    state = _Identifier(known, reidentified, found)
    targets = [(norm, state.target(norm, i)) for i, norm in enumerate(dirty)]
    if state.folded:
        targets = [(n, state.resolve(t)) for n, t in targets]
    if state.merges:  # records that found a merged device (by MAC, by source id) follow it
        targets = [(n, state.merges.get(t, t)) for n, t in targets]
    feeds: dict[str, int] = {}
    for _, t in targets:
        if type(t) is str:
            feeds[t] = feeds.get(t, 0) + 1
    return Identified(targets, feeds, state.merges, state.merge_keys)


def devices_to_read(identified: Identified, known: dict[str, Known]) -> tuple[set, set]:
    """(existing devices the batch's records go to, devices a record of it leaves)."""
    existing = {t for _, t in identified.targets if type(t) is int}
    left = {
        known[n.source_id].device_id
        for n, t in identified.targets
        if n.source_id in known and known[n.source_id].device_id != t
    } - existing.union(identified.merges)
    return existing, left
