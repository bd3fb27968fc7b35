"""Modbus TCP source (pymodbus): Read Device Identification for inventory, holding
registers mapped to counters.

Settings: ``{host, port (502), unit_id, unit_ids?, serial_register?, registers?}``.
One device per unit id (a gateway fronts several with ``unit_ids``); its source id is
``host:port/unit``. Identity: vendor name, product code and revision from Read Device
Identification (basic objects 0–2) and, when ``serial_register`` = ``{address, count}``
is set, the serial number as ASCII in those holding registers. ``registers`` is a list of
``{address, metric, type: uint16|int16|uint32|float32, unit?, scale?}``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from django.utils import timezone

from connectors.records import DeviceRecord, MetricRecord, RecordError, SourceIncomplete
from connectors.sources.base import Adapter, Item, only_keys, port_of, require

REGISTER_TYPES = {
    "uint16": (1, ">H"),
    "int16": (1, ">h"),
    "uint32": (2, ">I"),
    "float32": (2, ">f"),
}


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1").strip("\x00 ").strip()
    return str(value or "").strip()


def registers_to_ascii(registers: list[int]) -> str:
    raw = b"".join(struct.pack(">H", r) for r in registers)
    return raw.decode("latin-1").strip("\x00 ").strip()


class ModbusAdapter(Adapter):
    """Reads identification and mapped registers of each configured unit."""

    kind = "modbus"
    default_port = 502

    @classmethod
    def validate_settings(cls, settings: dict) -> dict:
        only_keys(settings, {"host", "port", "unit_id", "unit_ids", "serial_register", "registers"})
        clean = {"host": require(settings, "host"), "port": port_of(settings, cls.default_port)}
        units = settings.get("unit_ids") or [settings.get("unit_id", 1)]
        if not isinstance(units, list) or not all(
            isinstance(u, int) and 0 <= u <= 247 for u in units
        ):
            raise ValueError("unit_id/unit_ids: integers 0–247")
        clean["unit_id"] = units[0]
        if settings.get("unit_ids"):
            clean["unit_ids"] = units
        serial = settings.get("serial_register")
        if serial is not None:
            if not (
                isinstance(serial, dict)
                and isinstance(serial.get("address"), int)
                and isinstance(serial.get("count"), int)
                and 0 < serial["count"] <= 32
            ):
                raise ValueError("serial_register: {address, count (1–32)}")
            clean["serial_register"] = {"address": serial["address"], "count": serial["count"]}
        registers = settings.get("registers") or []
        if not isinstance(registers, list):
            raise ValueError("registers: a list")
        clean_registers = []
        for i, reg in enumerate(registers):
            if not isinstance(reg, dict) or not isinstance(reg.get("address"), int):
                raise ValueError(f"registers[{i}]: needs an integer address")
            if not reg.get("metric") or not isinstance(reg["metric"], str):
                raise ValueError(f"registers[{i}]: needs a metric key")
            kind = reg.get("type", "uint16")
            if kind not in REGISTER_TYPES:
                raise ValueError(f"registers[{i}]: type must be one of {sorted(REGISTER_TYPES)}")
            clean_registers.append(
                {
                    "address": reg["address"],
                    "metric": reg["metric"],
                    "type": kind,
                    "unit": str(reg.get("unit", "")),
                    "scale": float(reg.get("scale", 1)),
                }
            )
        if clean_registers:
            clean["registers"] = clean_registers
        return clean

    def connection_errors(self) -> tuple[type[BaseException], ...]:
        from pymodbus.exceptions import ConnectionException, ModbusIOException

        return (*super().connection_errors(), ConnectionException, ModbusIOException)

    def fetch(self) -> Iterator[Item]:
        from pymodbus.client import ModbusTcpClient
        from pymodbus.exceptions import ConnectionException, ModbusIOException

        units = self.settings.get("unit_ids") or [self.settings.get("unit_id", 1)]
        client = ModbusTcpClient(
            self.target.address, port=self.target.port, timeout=3, retries=0, reconnect_delay=0
        )
        if not client.connect():
            raise ConnectionError(f"Modbus server {self.target.host}:{self.target.port} refused")
        done = 0
        try:
            for unit in units:
                try:
                    yield from self._read_unit(client, unit)
                except (ConnectionException, ModbusIOException, OSError) as exc:
                    if not done:
                        raise ConnectionError(f"Modbus connection lost: {exc}") from exc
                    raise SourceIncomplete(
                        f"Modbus connection lost after {done} of {len(units)} units: {exc}"
                    ) from exc
                done += 1
        finally:
            client.close()

    def _read_unit(self, client, unit: int) -> Iterator[Item]:
        source_id = f"{self.target.host}:{self.target.port}/{unit}"
        info = client.read_device_information(read_code=1, object_id=0, device_id=unit)
        if info.isError():
            yield RecordError(source_id, f"Read Device Identification failed: {info}")
            return
        objects = info.information
        serial = ""
        serial_reg = self.settings.get("serial_register")
        if serial_reg:
            response = client.read_holding_registers(
                serial_reg["address"], count=serial_reg["count"], device_id=unit
            )
            if response.isError():
                # A gateway answers identification for itself; a unit that cannot give its
                # serial number is not there (not seen: stale after a full sync).
                yield RecordError(source_id, f"unit {unit} did not answer: {response}")
                return
            serial = registers_to_ascii(response.registers)
        yield DeviceRecord(
            source_id=source_id,
            serial_number=serial,
            manufacturer=_text(objects.get(0)),
            model=_text(objects.get(1)),
            firmware=_text(objects.get(2)),
            name=f"unit {unit}",
        )
        now = timezone.now().replace(microsecond=0)
        for reg in self.settings.get("registers", []):
            count, fmt = REGISTER_TYPES[reg["type"]]
            response = client.read_holding_registers(reg["address"], count=count, device_id=unit)
            if response.isError():
                yield RecordError(source_id, f"{reg['metric']}: register {reg['address']} failed")
                continue
            raw = b"".join(struct.pack(">H", r) for r in response.registers)
            value = struct.unpack(fmt, raw)[0] * reg["scale"]
            yield MetricRecord(
                metric=reg["metric"],
                value=value,
                period_start=now,
                period_end=now,
                unit=reg["unit"],
                device_source_id=source_id,
            )
