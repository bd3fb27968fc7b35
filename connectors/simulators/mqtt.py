"""An MQTT broker for the demo and tests, and a Sparkplug B edge-node publisher.

``broker()`` yields ``(host, port)``: the broker of ``MQTT_BROKER_URL`` when set (CI sets
``mqtt://127.0.0.1:1883`` for Mosquitto), else Mosquitto on 127.0.0.1:1883 when
``prefer_local`` and it answers, else an embedded amqtt broker on a free port.

``SparkplugSimulator`` is a real paho client per edge node, behaving as Sparkplug 3.0
edge nodes do: each connection registers an NDEATH will carrying the session's ``bdSeq``
and publishes NBIRTH/DBIRTH (again after the broker comes back), ``Node Control/Rebirth``
commands get fresh births, and with ``primary_host_id`` the node births only while that
host's retained ``STATE`` says online (an offline STATE ends the session with an NDEATH;
the next online STATE starts a new one). DDATA is published on demand or every
``tick_seconds``; ``tick_seconds=None`` is a quiet edge, silent between births.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings

from connectors.simulators.base import LoopThread, free_port, port_open

logger = logging.getLogger(__name__)


class EmbeddedBroker:
    """An amqtt broker in a background thread (anonymous, 127.0.0.1 only)."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self._loop: LoopThread | None = None
        self._broker = None

    def start(self) -> None:
        from amqtt.broker import Broker

        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.ERROR)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        self._loop = LoopThread("mqtt-broker")

        async def start():
            self._broker = Broker(config)
            await self._broker.start()

        self._loop.call(start())

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call(self._broker.shutdown())
            self._loop.close()
            self._loop = None


@contextmanager
def broker(prefer_local: bool = False, port: int | None = None):
    """``(host, port)`` of a running MQTT broker for as long as the block runs (an
    embedded one binds ``port`` when given, else a free port)."""
    url = settings.MQTT_BROKER_URL
    if url:
        parts = urlsplit(url)
        yield parts.hostname or "127.0.0.1", parts.port or 1883
        return
    if prefer_local and port_open("127.0.0.1", 1883):
        yield "127.0.0.1", 1883
        return
    embedded = EmbeddedBroker(port)
    embedded.start()
    try:
        yield "127.0.0.1", embedded.port
    finally:
        embedded.stop()


@dataclass
class SparkplugDevice:
    device_id: str
    manufacturer: str
    model: str
    serial_number: str
    firmware: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    alive: bool = True  # a dead device is not re-born on a rebirth request


class SparkplugSimulator:
    """Edge nodes of one Sparkplug group, each a real MQTT client."""

    def __init__(
        self,
        host: str,
        port: int,
        group_id: str,
        nodes: dict[str, list[SparkplugDevice]],
        *,
        primary_host_id: str | None = None,
    ):
        self.host = host
        self.port = port
        self.group_id = group_id
        self.nodes = nodes
        self.primary_host_id = primary_host_id
        self.node_alive = {node: True for node in nodes}
        self.host_online = {node: primary_host_id is None for node in nodes}
        self._clients: dict[str, object] = {}
        self._seq: dict[str, int] = {}
        self._bd_seq: dict[str, int] = {node: 0 for node in nodes}
        self._live = False  # after start(): (re)connections publish births by themselves
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self.rebirths = 0
        self.births_published = 0  # complete NBIRTH+DBIRTH rounds, for tests to wait on

    # --- life cycle ---------------------------------------------------------------------
    def __enter__(self) -> SparkplugSimulator:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, *, births: bool = True, tick_seconds: float | None = 0.2) -> None:
        import paho.mqtt.client as mqtt

        for node in self.nodes:
            client = mqtt.Client(
                client_id=f"sim-{self.group_id}-{node}-{os.getpid()}", clean_session=True
            )
            self._clients[node] = client
            self._set_will(node)
            connected = threading.Event()
            client.reconnect_delay_set(1, 5)
            client.on_connect = lambda c, u, f, rc, node=node, ev=connected: self._on_connect(
                node, rc, ev
            )
            client.on_disconnect = lambda c, u, rc, node=node: self._on_disconnect(node)
            client.on_message = lambda c, u, m, node=node: self._on_message(node, m)
            client.connect(self.host, self.port, keepalive=5)
            client.loop_start()
            if not connected.wait(10):
                raise ConnectionError(f"broker {self.host}:{self.port} did not answer")
        self._live = births  # from here on, a STATE online or a reconnection births
        if births:
            for node in self.nodes:
                if self.host_online[node] and self.node_alive[node]:
                    self.publish_births(node)
        if tick_seconds:
            self._ticker = threading.Thread(target=self._tick, args=(tick_seconds,), daemon=True)
            self._ticker.start()

    def stop(self) -> None:
        """End every session as an edge node shutting down does: NDEATH, then disconnect."""
        self._stop.set()
        self._live = False
        if self._ticker is not None:
            self._ticker.join(5)
        for node, client in list(self._clients.items()):
            if client.is_connected() and self.node_alive[node] and self.host_online[node]:
                try:
                    self.publish_node_death(node)
                except (RuntimeError, ValueError):
                    logger.warning("NDEATH of %s not confirmed", node)
            client.disconnect()
            client.loop_stop()
        self._clients = {}

    def _tick(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            for node in self.nodes:
                if self.node_alive[node]:
                    self.publish_data(node)

    # --- messages -----------------------------------------------------------------------
    def _set_will(self, node: str) -> None:
        from pysparkplug import DataType, Metric, NDeath, get_current_timestamp

        now = get_current_timestamp()
        bd_seq = Metric(
            timestamp=now, name="bdSeq", datatype=DataType.INT64, value=self._bd_seq[node]
        )
        death = NDeath(timestamp=now, bd_seq_metric=bd_seq).encode()
        self._clients[node].will_set(f"spBv1.0/{self.group_id}/NDEATH/{node}", death, qos=1)

    def _on_connect(self, node: str, rc: int, connected: threading.Event) -> None:
        if rc != 0:
            return
        client = self._clients[node]
        client.subscribe(f"spBv1.0/{self.group_id}/NCMD/{node}", qos=1)
        if self.primary_host_id:
            client.subscribe(f"spBv1.0/STATE/{self.primary_host_id}", qos=1)
        connected.set()
        if self._live and self.host_online[node] and self.node_alive[node]:
            # A reconnection (the broker came back): a new session starts with births.
            threading.Thread(target=self.publish_births, args=(node,), daemon=True).start()

    def _on_disconnect(self, node: str) -> None:
        # The next session has the next bdSeq, in its will and its NBIRTH.
        self._bd_seq[node] = (self._bd_seq[node] + 1) % 256
        if node in self._clients:
            self._set_will(node)
        if self.primary_host_id:
            self.host_online[node] = False  # wait for the host's retained STATE again

    def _on_message(self, node: str, message) -> None:
        if message.topic.startswith("spBv1.0/STATE/"):
            self._on_host_state(node, message.payload)
        else:
            self._on_command(node, message)

    def _on_host_state(self, node: str, payload: bytes) -> None:
        try:
            online = bool(json.loads(payload).get("online"))
        except (ValueError, AttributeError):
            logger.warning("undecodable STATE of %s", self.primary_host_id)
            return
        was, self.host_online[node] = self.host_online[node], online
        if online and not was and self._live and self.node_alive[node]:
            threading.Thread(target=self.publish_births, args=(node,), daemon=True).start()
        elif not online and was:
            # The primary host went away: this session ends (a new bdSeq for the next).
            threading.Thread(target=self._end_session, args=(node,), daemon=True).start()

    def _end_session(self, node: str) -> None:
        from pysparkplug import DataType, Metric, NDeath, get_current_timestamp

        now = get_current_timestamp()
        bd_seq = Metric(
            timestamp=now, name="bdSeq", datatype=DataType.INT64, value=self._bd_seq[node]
        )
        self._publish(node, "NDEATH", NDeath(timestamp=now, bd_seq_metric=bd_seq).encode())
        self._bd_seq[node] = (self._bd_seq[node] + 1) % 256
        self._set_will(node)

    def _next_seq(self, node: str) -> int:
        seq = self._seq.get(node, -1) + 1
        self._seq[node] = seq % 256
        return self._seq[node]

    def _publish(self, node: str, kind: str, payload: bytes, device: str | None = None) -> None:
        topic = f"spBv1.0/{self.group_id}/{kind}/{node}" + (f"/{device}" if device else "")
        self._clients[node].publish(topic, payload, qos=1).wait_for_publish(5)

    def publish_births(self, node: str) -> None:
        from pysparkplug import DataType, DBirth, Metric, NBirth, get_current_timestamp

        now = get_current_timestamp()
        self._seq[node] = -1
        node_metrics = (
            Metric(timestamp=now, name="bdSeq", datatype=DataType.INT64, value=self._bd_seq[node]),
            Metric(
                timestamp=now, name="Node Control/Rebirth", datatype=DataType.BOOLEAN, value=False
            ),
            Metric(
                timestamp=now,
                name="Properties/Manufacturer",
                datatype=DataType.STRING,
                value="Cirrus Link",
            ),
            Metric(
                timestamp=now,
                name="Properties/Model",
                datatype=DataType.STRING,
                value="Edge Gateway",
            ),
            Metric(
                timestamp=now,
                name="Properties/Serial Number",
                datatype=DataType.STRING,
                value=f"GW-{self.group_id}-{node}",
            ),
            Metric(
                timestamp=now, name="Properties/Firmware", datatype=DataType.STRING, value="4.0.21"
            ),
        )
        self._publish(
            node,
            "NBIRTH",
            NBirth(timestamp=now, seq=self._next_seq(node), metrics=node_metrics).encode(),
        )
        for device in self.nodes[node]:
            if not device.alive:
                continue
            metrics = [
                Metric(
                    timestamp=now,
                    name="Properties/Manufacturer",
                    datatype=DataType.STRING,
                    value=device.manufacturer,
                ),
                Metric(
                    timestamp=now,
                    name="Properties/Model",
                    datatype=DataType.STRING,
                    value=device.model,
                ),
                Metric(
                    timestamp=now,
                    name="Properties/Serial Number",
                    datatype=DataType.STRING,
                    value=device.serial_number,
                ),
                Metric(
                    timestamp=now,
                    name="Properties/Firmware",
                    datatype=DataType.STRING,
                    value=device.firmware,
                ),
            ]
            metrics += [
                Metric(timestamp=now, name=name, datatype=DataType.DOUBLE, value=float(value))
                for name, value in device.metrics.items()
            ]
            self._publish(
                node,
                "DBIRTH",
                DBirth(timestamp=now, seq=self._next_seq(node), metrics=tuple(metrics)).encode(),
                device.device_id,
            )
        self.births_published += 1

    def publish_data(self, node: str) -> None:
        from pysparkplug import DataType, DData, Metric, get_current_timestamp

        now = get_current_timestamp()
        for device in self.nodes[node]:
            if not device.alive or not device.metrics:
                continue
            metrics = tuple(
                Metric(timestamp=now, name=name, datatype=DataType.DOUBLE, value=float(value))
                for name, value in device.metrics.items()
            )
            self._publish(
                node,
                "DDATA",
                DData(timestamp=now, seq=self._next_seq(node), metrics=metrics).encode(),
                device.device_id,
            )

    def publish_device_death(self, node: str, device_id: str) -> None:
        from pysparkplug import DDeath, get_current_timestamp

        for device in self.nodes[node]:
            if device.device_id == device_id:
                device.alive = False
        self._publish(
            node,
            "DDEATH",
            DDeath(timestamp=get_current_timestamp(), seq=self._next_seq(node)).encode(),
            device_id,
        )

    def publish_node_death(self, node: str) -> None:
        from pysparkplug import DataType, Metric, NDeath, get_current_timestamp

        self.node_alive[node] = False
        now = get_current_timestamp()
        bd_seq = Metric(
            timestamp=now, name="bdSeq", datatype=DataType.INT64, value=self._bd_seq[node]
        )
        self._publish(node, "NDEATH", NDeath(timestamp=now, bd_seq_metric=bd_seq).encode())

    def _on_command(self, node: str, message) -> None:
        from pysparkplug import NCmd

        try:
            payload = NCmd.decode(message.payload)
        except Exception:
            logger.warning("undecodable NCMD on %s", message.topic)
            return
        asked = any(m.name == "Node Control/Rebirth" and m.value for m in payload.metrics)
        if asked and self.node_alive[node] and self.host_online[node]:
            self.rebirths += 1
            threading.Thread(target=self.publish_births, args=(node,), daemon=True).start()


def wait_until(predicate, timeout: float = 10.0) -> bool:
    """Poll ``predicate`` until true (for protocol round trips, not for sleeping)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False
