"""MQTT source (paho-mqtt 1.x): Sparkplug B via pysparkplug, or plain JSON topics.

Settings: ``{host, port (1883), mode: sparkplug|json, group_id?, topics?, mapping?,
metrics?, listen_seconds?, rebirth?, host_id?}``; credentials ``{username?, password?}``.

When the Sparkplug host application (``manage.py mqtt_host``) runs for the connector, a
sync reads the host's state — the births it has heard since it connected to the broker —
and is complete at once (after waiting, at most, for the host's first ``listen_seconds``
after it connected). Otherwise the sync listens itself:

Sparkplug B: a sync subscribes to ``spBv1.0/<group_id or +>/#`` for ``listen_seconds``
(default 3), asks every edge node it knows of or hears data from for a rebirth
(``Node Control/Rebirth``) unless ``rebirth`` is false, and turns NBIRTH/DBIRTH into
device records (source id ``group/edge node[/device]``; identity from
``Properties/Manufacturer``, ``…/Model``, ``…/Serial Number``, ``…/Firmware`` unless
``mapping`` = ``{field: metric name}`` says otherwise), DDATA/NDATA numeric metrics into
metric samples (``metrics`` = ``{metric name: metric key}`` picks and renames; default
every numeric non-``Properties/`` metric), NDEATH/DDEATH into offline devices. Birth data
is kept in the connector cursor so a later death is reported with the device's identity.
When no edge node answered (no birth, no death) the sync ends partial with "no edge node
answered in N s": silence proves nothing, so nothing is marked stale.

JSON: subscribes to ``topics``; every message is an object (or a list of objects) mapped
by ``mapping`` = ``{field: json key}`` (``source_id`` defaults to the topic), numeric
keys named in ``metrics`` become metric samples.

``host_id`` names the host application on the broker (its ``spBv1.0/STATE/<host_id>``);
edge nodes configured to wait for a primary host must name the same id. Default
``coe-<connector id>``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

from django.utils import timezone

from connectors.records import DeviceRecord, NoAnswer, RecordError, SourceIncomplete
from connectors.sources.base import Adapter, Item, only_keys, port_of, require
from connectors.sources.sparkplug import (
    DEVICE_FIELDS,
    SparkplugDecoder,
    json_items,
    rebirth_request,
    record_fields,
)

SETTING_KEYS = {
    "host",
    "port",
    "mode",
    "group_id",
    "topics",
    "mapping",
    "metrics",
    "listen_seconds",
    "rebirth",
    "host_id",
}


def _sparkplug_id(value, key: str) -> str:
    if not isinstance(value, str) or not value or any(c in value for c in "/+#"):
        raise ValueError(f"{key}: a Sparkplug id (no / + #)")
    return value


def subscriptions(settings: dict) -> list[str]:
    """The topic filters a sync or the host subscribes to."""
    if settings["mode"] == "json":
        return settings["topics"]
    return [f"spBv1.0/{settings.get('group_id', '+')}/#"]


def mqtt_client(client_id: str, credentials: dict):
    """A paho 1.x client with the connector's credentials."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(client_id=client_id, clean_session=True)
    if credentials.get("username"):
        client.username_pw_set(credentials["username"], credentials.get("password"))
    return client


class MqttAdapter(Adapter):
    """Reads the running host application's state, or listens to the broker for a while."""

    kind = "mqtt"
    default_port = 1883

    @classmethod
    def validate_settings(cls, settings: dict) -> dict:
        only_keys(settings, SETTING_KEYS)
        clean = {"host": require(settings, "host"), "port": port_of(settings, cls.default_port)}
        mode = settings.get("mode", "sparkplug")
        if mode not in ("sparkplug", "json"):
            raise ValueError("mode: sparkplug or json")
        clean["mode"] = mode
        for key in ("group_id", "host_id"):
            if settings.get(key):
                clean[key] = _sparkplug_id(settings[key], key)
        topics = settings.get("topics") or []
        if not isinstance(topics, list) or not all(isinstance(t, str) and t for t in topics):
            raise ValueError("topics: a list of topic filters")
        if mode == "json" and not topics:
            raise ValueError("topics: required in json mode")
        if topics:
            clean["topics"] = topics
        for key in ("mapping", "metrics"):
            value = settings.get(key) or {}
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise ValueError(f"{key}: an object of strings")
            if key == "mapping" and set(value) - DEVICE_FIELDS:
                raise ValueError(f"mapping: fields are {', '.join(sorted(DEVICE_FIELDS))}")
            if value:
                clean[key] = value
        listen = settings.get("listen_seconds", 3)
        if not isinstance(listen, int | float) or not 0 < listen <= 120:
            raise ValueError("listen_seconds: 0–120")
        clean["listen_seconds"] = listen
        clean["rebirth"] = bool(settings.get("rebirth", True))
        return clean

    def fetch(self) -> Iterator[Item]:
        state = self._running_host()
        if state is not None:
            yield from self._read_host(state)
        else:
            yield from self._listen()

    # --- through the host application ---------------------------------------------------
    def _running_host(self):
        """The state of a host application connected for this connector, once settled.

        The host's view is complete ``listen_seconds`` after it (re)connected: by then the
        edge nodes have answered its STATE birth and rebirth requests. A sync arriving
        earlier waits for that moment; a host that keeps reconnecting is not waited on.
        """
        if self.connector_id is None:
            return None
        from connectors.mqtt_host.selectors import live_host_state

        listen = self.settings.get("listen_seconds", 3)
        deadline = time.monotonic() + listen + 5
        while time.monotonic() < deadline:
            state = live_host_state(self.connector_id)
            if state is None or state.connected_at is None:
                return None
            wait = (state.connected_at + timedelta(seconds=listen) - timezone.now()).total_seconds()
            if wait <= 0:
                return state
            time.sleep(min(wait, 0.25))
        return None

    def _read_host(self, state) -> Iterator[Item]:
        age = max(0, round((timezone.now() - state.connected_at).total_seconds()))
        if not state.devices:
            raise NoAnswer(f"no edge node answered in {age} s (host application {state.host_id})")
        for source_id, entry in sorted(state.devices.items()):
            yield DeviceRecord(source_id=source_id, **entry)
        last = state.last_message_at.isoformat(timespec="seconds") if state.last_message_at else "-"
        self.note = (
            f"read from the host application {state.host_id}: {len(state.devices)} devices "
            f"heard in {age} s, last message {last}"
        )
        if self.settings["mode"] == "sparkplug":
            births = dict(self.cursor.get("births", {}))
            births.update(
                {sid: record_fields(DeviceRecord(sid, **e)) for sid, e in state.devices.items()}
            )
            self._keep_births(births)

    # --- listening ----------------------------------------------------------------------
    def _known(self) -> dict[str, dict]:
        known = dict(self.cursor.get("births", {}))
        if self.connector_id is not None:
            from connectors.mqtt_host.selectors import known_devices

            known.update(known_devices(self.connector_id))
        return known

    def _listen(self) -> Iterator[Item]:
        sparkplug = self.settings["mode"] == "sparkplug"
        rebirth = self.settings.get("rebirth", True)
        decoder = SparkplugDecoder(
            mapping=self.settings.get("mapping"), metrics=self.settings.get("metrics")
        )
        decoder.remember(self._known())
        lock = threading.Lock()
        devices: dict[str, DeviceRecord] = {}
        items: list[Item] = []
        answered: set[str] = set()
        heard: set[str] = set()  # nodes or topics that sent anything
        asked: set[str] = set()
        connected = threading.Event()
        lost: list[int] = []
        client = mqtt_client(f"coe-{uuid.uuid4().hex[:12]}", self.credentials)

        def ask(node: str) -> None:
            if rebirth and node not in asked:
                asked.add(node)
                client.publish(*rebirth_request(node), qos=1)

        def on_connect(client, userdata, flags, rc):
            if rc != 0:
                lost.append(rc)
            else:
                for topic in subscriptions(self.settings):
                    client.subscribe(topic, qos=0)
                if sparkplug:
                    for node in sorted({"/".join(s.split("/")[:2]) for s in decoder.known}):
                        ask(node)
            connected.set()

        def on_disconnect(client, userdata, rc):
            if rc != 0:
                lost.append(rc)

        def on_message(client, userdata, message):
            with lock:
                try:
                    if not sparkplug:
                        heard.add(message.topic)
                        answered.add(message.topic)
                        decoded = json_items(
                            message.topic,
                            message.payload,
                            self.settings.get("mapping", {}),
                            self.settings.get("metrics", {}),
                        )
                    else:
                        out = decoder.decode(message.topic, message.payload)
                        if out.node and out.event:
                            heard.add(out.node)
                        if out.event in ("birth", "death"):
                            answered.add(out.node)
                        if out.rebirth:
                            ask(out.node)
                        decoded = out.items
                except Exception as exc:  # one bad message is a rejected record, not a crash
                    decoded = [RecordError(message.topic, f"undecodable message: {exc}")]
                for item in decoded:
                    if isinstance(item, DeviceRecord):
                        devices[item.source_id] = item
                    else:
                        items.append(item)

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_message = on_message
        client.connect(self.target.address, self.target.port, keepalive=30)
        client.loop_start()
        listen = self.settings.get("listen_seconds", 3)
        try:
            if not connected.wait(10) or lost:
                raise ConnectionError(f"MQTT broker {self.target.host} refused: {lost}")
            deadline = time.monotonic() + listen
            while time.monotonic() < deadline and not lost:
                time.sleep(0.05)
        finally:
            client.disconnect()
            client.loop_stop()
        with lock:
            found = list(devices.values()) + items
        yield from found
        if lost:
            if not devices:
                raise ConnectionError(f"MQTT connection lost (rc={lost[0]})")
            raise SourceIncomplete(f"MQTT connection lost after {len(devices)} devices")
        if not answered:
            silent = (
                f"no edge node answered in {listen:g} s"
                if sparkplug
                else (f"no message arrived on {', '.join(self.settings['topics'])} in {listen:g} s")
            )
            if heard:
                silent += f" (data without a birth from {', '.join(sorted(heard))})"
            raise NoAnswer(silent)
        if sparkplug:
            births = {sid: record_fields(r) for sid, r in decoder.current.items()}
            self._keep_births(births | {k: v for k, v in decoder.known.items() if k not in births})

    def _keep_births(self, births: dict[str, dict]) -> None:
        self.cursor["births"] = births
        self.cursor["nodes"] = sorted({"/".join(sid.split("/")[:2]) for sid in births})
