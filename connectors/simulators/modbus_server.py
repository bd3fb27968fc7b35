"""A pymodbus TCP server simulating a gateway of CNC cells (one unit id per cell).

The server answers Read Device Identification (vendor, product code, revision — pymodbus
keeps one identity per process, so every unit of a gateway shares it); each unit keeps its
serial number as ASCII in holding registers ``SERIAL_ADDRESS``… and counters at
``COUNTER_ADDRESS`` (good parts, uint32) and ``COUNTER_ADDRESS + 2`` (total parts).
A data block cannot start at address 0, so the registers start at 1.
"""

from __future__ import annotations

import errno
import logging
import struct
from dataclasses import dataclass

from connectors.simulators.base import LoopThread, bindable, free_port

SERIAL_ADDRESS = 100
SERIAL_REGISTERS = 8
COUNTER_ADDRESS = 200


@dataclass
class ModbusUnit:
    unit_id: int
    serial_number: str
    good_count: int = 0
    total_count: int = 0


def ascii_registers(text: str, count: int) -> list[int]:
    raw = text.encode("latin-1")[: count * 2].ljust(count * 2, b"\x00")
    return [struct.unpack(">H", raw[i : i + 2])[0] for i in range(0, len(raw), 2)]


def uint32_registers(value: int) -> list[int]:
    return [(value >> 16) & 0xFFFF, value & 0xFFFF]


class ModbusSimulator:
    """``with ModbusSimulator(units) as sim: sim.port`` — a real Modbus TCP server."""

    def __init__(
        self,
        units: list[ModbusUnit],
        *,
        vendor: str = "DMG MORI",
        product_code: str = "DMU 50",
        revision: str = "3.2",
        port: int | None = None,
    ):
        self.units = units
        self.identity = {
            "VendorName": vendor,
            "ProductCode": product_code,
            "MajorMinorRevision": revision,
        }
        self.port = port or free_port()
        self._loop: LoopThread | None = None
        self._server = None

    def __enter__(self) -> ModbusSimulator:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def settings(self) -> dict:
        """Connector settings that read every unit of this simulator."""
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "unit_id": self.units[0].unit_id,
            "unit_ids": [u.unit_id for u in self.units],
            "serial_register": {"address": SERIAL_ADDRESS, "count": SERIAL_REGISTERS},
            "registers": [
                {"address": COUNTER_ADDRESS, "metric": "good_count", "type": "uint32"},
                {"address": COUNTER_ADDRESS + 2, "metric": "total_count", "type": "uint32"},
            ],
        }

    def start(self) -> None:
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
        self._loop = LoopThread("modbus-simulator")
        self._loop.call(self._start())

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call(self._server.shutdown())
            self._loop.close()
            self._loop = None

    async def _start(self) -> None:
        import asyncio

        from pymodbus import ModbusDeviceIdentification
        from pymodbus.server import ModbusTcpServer
        from pymodbus.simulator import DataType, SimData, SimDevice

        devices = []
        for unit in self.units:
            registers = [0] * 300
            registers[SERIAL_ADDRESS : SERIAL_ADDRESS + SERIAL_REGISTERS] = ascii_registers(
                unit.serial_number, SERIAL_REGISTERS
            )
            registers[COUNTER_ADDRESS : COUNTER_ADDRESS + 2] = uint32_registers(unit.good_count)
            registers[COUNTER_ADDRESS + 2 : COUNTER_ADDRESS + 4] = uint32_registers(
                unit.total_count
            )
            devices.append(
                SimDevice(
                    id=unit.unit_id,
                    simdata=[SimData(address=1, values=registers[1:], datatype=DataType.REGISTERS)],
                )
            )
        self._server = ModbusTcpServer(
            devices,
            address=("127.0.0.1", self.port),
            identity=ModbusDeviceIdentification(info_name=self.identity),
        )
        serving = asyncio.get_running_loop().create_task(self._server.serve_forever())
        for _ in range(250):
            if self._server.is_active():
                return
            if serving.done():  # pymodbus gave up listening (its error names no cause)
                break
            await asyncio.sleep(0.02)
        cause = serving.exception() if serving.done() else None
        code = errno.EADDRINUSE if not bindable(self.port) else errno.EIO
        raise OSError(
            code, f"the Modbus simulator could not listen on 127.0.0.1:{self.port}"
        ) from cause
