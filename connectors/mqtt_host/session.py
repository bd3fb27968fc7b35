"""One connector's MQTT session of the host application: a paho client and what it heard.

paho's network thread runs the callbacks: they decode messages into records and keep the
node and device state under a lock; the host's main thread takes them out
(:meth:`HostSession.take`) to ingest and persist, so the database is only touched there.
paho reconnects by itself with a doubling delay (1 s to 30 s) when the broker goes away,
also for the first connection.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass

from django.utils import timezone

from connectors.records import DeviceRecord, MetricRecord, RecordError
from connectors.sources.mqtt import mqtt_client, subscriptions
from connectors.sources.sparkplug import (
    SparkplugDecoder,
    json_items,
    rebirth_request,
    record_fields,
    state_payload,
    state_topic,
)

logger = logging.getLogger("connectors.mqtt_host")

REBIRTH_INTERVAL = 10.0  # s between two rebirth requests to the same node
RECONNECT_DELAY = (1, 30)  # s, paho doubles the delay between attempts up to the maximum
MAX_ERRORS = 20  # errors kept in the state (the latest)


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Taken:
    """What a session heard since the last take."""

    items: list
    state: dict  # fields of MqttHostState to write
    structural: bool  # births, deaths or (re)connections happened: nodes/devices changed


class HostSession:
    """A Sparkplug host (or JSON listener) for one connector on its broker."""

    def __init__(
        self,
        *,
        connector_id: int,
        host_id: str,
        settings: dict,
        credentials: dict,
        address: str,
        port: int,
        known: dict[str, dict],
        signature: str,
    ):
        self.connector_id = connector_id
        self.host_id = host_id
        self.settings = settings
        self.credentials = credentials
        self.address = address
        self.port = port
        self.signature = signature
        self.sparkplug = settings["mode"] == "sparkplug"
        self.rebirth = settings.get("rebirth", True)
        self.decoder = SparkplugDecoder(
            mapping=settings.get("mapping"), metrics=settings.get("metrics")
        )
        self.decoder.remember(known)
        self.lock = threading.Lock()
        self.topic = state_topic(host_id)
        self.client = None
        self._pending: list = []
        self._nodes: dict[str, dict] = {}
        self._json_devices: dict[str, DeviceRecord] = {}
        self._asked: dict[str, float] = {}
        self._structural = True
        self._state: dict = {"connected_at": None, "last_message_at": None, "message": ""}
        self._counts = {"births": 0, "deaths": 0, "metrics": 0, "rejected": 0}
        self._errors: list[dict] = []
        self._birth_ts = _now_ms()
        self._stopping = False
        self.written: dict = {}  # the state as last written (the runner skips a repeat)

    # --- life cycle ---------------------------------------------------------------------
    def start(self) -> None:
        # A client id of its own: two hosts never take each other's session over.
        client = mqtt_client(
            f"coe-host-{self.host_id}"[:52] + f"-{uuid.uuid4().hex[:8]}", self.credentials
        )
        self.client = client
        self._set_will()
        client.reconnect_delay_set(*RECONNECT_DELAY)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.connect_async(self.address, self.port, keepalive=10)
        client.loop_start()
        with self.lock:
            self._state["message"] = f"connecting to {self.address}:{self.port}"

    def stop(self) -> None:
        """Publish the offline STATE (a clean disconnect sends no will), then disconnect."""
        if self.client is None:
            return
        self._stopping = True
        client, self.client = self.client, None
        if client.is_connected():
            info = client.publish(
                self.topic, state_payload(False, self._birth_ts), qos=1, retain=True
            )
            try:
                info.wait_for_publish(3)
            except (RuntimeError, ValueError):
                logger.warning("host %s: offline STATE not confirmed", self.host_id)
        client.disconnect()
        client.loop_stop()
        with self.lock:
            self._state["connected_at"] = None
            self._structural = True

    def _set_will(self) -> None:
        # Sparkplug 3.0: the birth and the will of one session carry the same timestamp.
        self._birth_ts = _now_ms()
        self.client.will_set(self.topic, state_payload(False, self._birth_ts), qos=1, retain=True)

    # --- paho callbacks (network thread) ------------------------------------------------
    def _on_connect(self, client, userdata, flags, rc) -> None:
        if rc != 0:
            with self.lock:
                self._state["message"] = f"broker refused the connection (rc={rc})"
            return
        # Subscribe first: the broker handles one client's packets in order, so the births
        # edge nodes publish when they see the STATE birth reach a subscribed host.
        client.subscribe([(topic, 1) for topic in subscriptions(self.settings)])
        client.subscribe(self.topic, qos=1)
        client.publish(self.topic, state_payload(True, self._birth_ts), qos=1, retain=True)
        with self.lock:
            if self.sparkplug:
                # What this session knew may have changed while it was away: its view is
                # what it hears from now on (edge nodes re-birth on the STATE birth or
                # when asked).
                self.decoder.current.clear()
                self.decoder.births.clear()
                self._nodes = {}
                nodes = sorted({"/".join(s.split("/")[:2]) for s in self.decoder.known})
            else:
                nodes = []
            self._state.update(connected_at=timezone.now(), message="")
            self._structural = True
            self._asked = {}
        logger.info("host %s connected to %s:%s", self.host_id, self.address, self.port)
        for node in nodes:
            self._ask(node)

    def _on_disconnect(self, client, userdata, rc) -> None:
        with self.lock:
            self._state["connected_at"] = None
            if rc != 0:
                self._state["message"] = f"connection to the broker lost (rc={rc}); reconnecting"
            self._structural = True
        if not self._stopping:
            self._set_will()  # the next connection announces itself with a new timestamp
            logger.warning("host %s lost the broker (rc=%s)", self.host_id, rc)

    def _on_message(self, client, userdata, message) -> None:
        now = timezone.now()
        if message.topic == self.topic:
            self._on_own_state(client, message.payload)
            return
        ask = ""
        with self.lock:
            self._state["last_message_at"] = now
            try:
                items, ask = self._decode(message, now)
            except Exception as exc:  # one bad message is a rejected record, not a crash
                items = [RecordError(message.topic, f"undecodable message: {exc}")]
            for item in items:
                if isinstance(item, MetricRecord):
                    self._counts["metrics"] += 1
                elif isinstance(item, RecordError):
                    self._counts["rejected"] += 1
                    self._errors = [
                        *self._errors[-(MAX_ERRORS - 1) :],
                        {
                            "source_id": item.source_id,
                            "message": item.message,
                            "at": now.isoformat(),
                        },
                    ]
            self._pending += items
        if ask:
            self._ask(ask)

    def _decode(self, message, now) -> tuple[list, str]:
        if not self.sparkplug:
            items = json_items(
                message.topic,
                message.payload,
                self.settings.get("mapping", {}),
                self.settings.get("metrics", {}),
            )
            for item in items:
                if isinstance(item, DeviceRecord):
                    self._json_devices[item.source_id] = item
                    self._structural = True
            return items, ""
        out = self.decoder.decode(message.topic, message.payload)
        if out.event == "birth":
            self._counts["births"] += 1
            node = self._nodes.setdefault(out.node, {})
            if node.get("online") is not True or message.topic.split("/")[2] == "NBIRTH":
                node.update(online=True, birth_at=now.isoformat())
            self._structural = True
        elif out.event == "death":
            self._counts["deaths"] += 1
            if message.topic.split("/")[2] == "NDEATH":
                self._nodes.setdefault(out.node, {}).update(online=False, death_at=now.isoformat())
            self._structural = True
        return out.items, out.node if out.rebirth else ""

    def _on_own_state(self, client, payload: bytes) -> None:
        """Sparkplug 3.0: a host that sees itself declared offline while connected (an old
        session's will delivered late) publishes its online STATE again."""
        try:
            online = bool(json.loads(payload).get("online"))
        except (ValueError, AttributeError):
            return
        if not online and not self._stopping:
            client.publish(self.topic, state_payload(True, self._birth_ts), qos=1, retain=True)

    def _ask(self, node: str) -> None:
        """Request a rebirth of ``node`` (at most once per REBIRTH_INTERVAL)."""
        if not (self.sparkplug and self.rebirth) or self.client is None:
            return
        now = time.monotonic()
        with self.lock:
            if now - self._asked.get(node, -REBIRTH_INTERVAL) < REBIRTH_INTERVAL:
                return
            self._asked[node] = now
        self.client.publish(*rebirth_request(node), qos=1)

    # --- the main thread's side ---------------------------------------------------------
    def take(self) -> Taken:
        """The records heard since the last take and the state to persist."""
        with self.lock:
            items, self._pending = self._pending, []
            state = {**self._state, **self._counts, "errors": list(self._errors)}
            structural, self._structural = self._structural, False
            if structural:
                current = self.decoder.current if self.sparkplug else self._json_devices
                state["devices"] = {
                    sid: record_fields(r) | {"online": r.online} for sid, r in current.items()
                }
                state["nodes"] = {k: dict(v) for k, v in self._nodes.items()}
                state["known"] = {k: dict(v) for k, v in self.decoder.known.items()}
        return Taken(items=items, state=state, structural=structural)

    def note_rejected(self, count: int, errors: list[dict]) -> None:
        """Records the ingest rejected (shown with the next take)."""
        with self.lock:
            self._counts["rejected"] += count
            self._errors = (self._errors + errors)[-MAX_ERRORS:]

    def give_back(self, items: list, *, structural: bool) -> None:
        """What could not be written (the database was away): tried again next time."""
        with self.lock:
            self._pending = items + self._pending
            self._structural = self._structural or structural
