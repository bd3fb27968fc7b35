"""Real peers of the host application tests: Mosquitto, the host in a thread, STATE reads."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from django.db import OperationalError

from connectors.mqtt_host.runner import HostRunner
from connectors.simulators.base import free_port, port_open
from connectors.simulators.mqtt import SparkplugSimulator, wait_until

MOSQUITTO = "/usr/sbin/mosquitto"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def local_mosquitto() -> tuple[str, int]:
    """The machine's Mosquitto on 127.0.0.1:1883 (CI and the dev machines run one)."""
    if not port_open("127.0.0.1", 1883):
        pytest.skip("needs Mosquitto on 127.0.0.1:1883 (apt install mosquitto)")
    return "127.0.0.1", 1883


class Mosquitto:
    """A Mosquitto process of the test's own, on a free port, that can be killed and restarted."""

    def __init__(self):
        if not shutil.which(MOSQUITTO):
            pytest.skip(f"needs the mosquitto binary at {MOSQUITTO}")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="coe-mosquitto-"))
        self.config = self.dir / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.dir / "mosquitto.log", "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=log, stderr=log)
        log.close()
        if not wait_until(lambda: port_open("127.0.0.1", self.port), timeout=10):
            raise RuntimeError(f"mosquitto did not listen on {self.port}")

    def kill(self) -> None:
        """The broker dies without a goodbye (no clean disconnect of its clients)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextmanager
def mosquitto():
    broker = Mosquitto()
    broker.start()
    try:
        yield broker
    finally:
        broker.close()


@contextmanager
def running_host(poll_seconds: float = 0.5):
    """The host application's main loop in a thread (as ``mqtt_host`` runs it)."""
    runner = HostRunner(poll_seconds=poll_seconds)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield runner
    finally:
        stop.set()
        thread.join(20)
        assert not thread.is_alive(), "the host did not stop"


def retained(host: str, port: int, topic: str, timeout: float = 5.0) -> bytes | None:
    """The retained message of ``topic`` on the broker (None when there is none)."""
    got: list[bytes] = []
    subscribed = threading.Event()
    client = mqtt.Client(client_id=unique("probe"))
    client.on_message = lambda c, u, m: got.append(m.payload)
    client.on_subscribe = lambda c, u, mid, q: subscribed.set()
    client.connect(host, port)
    client.loop_start()
    try:
        client.subscribe(topic, qos=1)
        subscribed.wait(timeout)
        # A retained message is sent right after SUBACK; a short grace lets it arrive.
        wait_until(lambda: bool(got), timeout=1.0)
    finally:
        client.loop_stop()
        client.disconnect()
    return got[-1] if got else None


def state_of(host: str, port: int, host_id: str) -> dict | None:
    raw = retained(host, port, f"spBv1.0/STATE/{host_id}")
    return json.loads(raw) if raw else None


@contextmanager
def quiet_edge(host: str, port: int, group: str, nodes: dict, **options):
    """Edge nodes that publish births on connect and when asked, and nothing else."""
    sim = SparkplugSimulator(host, port, group, nodes, **options)
    sim.start(tick_seconds=None)
    try:
        yield sim
    finally:
        sim.stop()


def db_until(predicate, timeout: float = 20.0) -> bool:
    """``wait_until`` for predicates that read rows the host's thread is writing: SQLite's
    shared in-memory test database answers "table is locked" instead of waiting."""

    def attempt() -> bool:
        try:
            return bool(predicate())
        except OperationalError:
            return False

    return wait_until(attempt, timeout)
