"""The plain records adapters yield; the ingest step is the only thing that writes them."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime


@dataclass(slots=True)
class DeviceRecord:
    """What one source says about one device.

    ``source_id`` is unique within the connector (an OPC UA node id, a Sparkplug
    ``group/edge node/device``, a Modbus ``host:port/unit``). ``online`` is False when the
    source reports the device gone (e.g. a Sparkplug DDEATH), None when it does not say.
    """

    source_id: str
    serial_number: str = ""
    mac: str = ""
    manufacturer: str = ""
    model: str = ""
    firmware: str = ""
    hardware_revision: str = ""
    name: str = ""
    online: bool | None = True


# What a source may say about a device, in the order files and mappings list them.
DEVICE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(DeviceRecord) if f.name != "online")


@dataclass(slots=True)
class MetricRecord:
    """One value of a metric over a period; ``device_source_id`` links it to a device record."""

    metric: str
    value: float
    period_start: datetime
    period_end: datetime
    unit: str = ""
    line: str = ""
    device_source_id: str = ""
    series: str = ""  # tells apart series of one metric; default: the device or the line


@dataclass
class RecordError:
    """A record the adapter or the ingest rejected, with where and why."""

    source_id: str
    message: str
    extra: dict = field(default_factory=dict)


class SourceIncomplete(Exception):
    """The source stopped before the adapter read everything (e.g. the connection dropped).

    Records yielded before it are kept; the run ends partial and marks nothing stale.
    """


class NoAnswer(SourceIncomplete):
    """The source was reachable but nothing in it answered while the adapter listened.

    Silence proves nothing: the run ends partial with the message, even with no record,
    and marks nothing stale (never a success with nothing).
    """
