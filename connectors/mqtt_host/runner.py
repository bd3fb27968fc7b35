"""The host application's main loop: which connectors to serve, ingest, persist, heartbeat.

Every ``poll_seconds`` it reads the enabled MQTT connectors and starts, restarts (settings,
credentials or allowlist changed) or stops their sessions, and moves the heartbeat of the
ones it serves; twice a second it ingests what the sessions heard through the shared
ingest (births and deaths as device records, data as metric samples) and writes their
state. The database is only touched from this thread.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
import time

from django.conf import settings as django_settings
from django.db import close_old_connections, connections, transaction
from django.utils import timezone

from coe.network import TargetBlocked, resolve_target
from connectors.choices import ConnectorKind
from connectors.crypto import CredentialsError
from connectors.ingest import IngestSession
from connectors.models import Connector
from connectors.mqtt_host.session import HostSession
from connectors.mqtt_host.state import MqttHostState
from connectors.sources import adapter_class, validate_settings

logger = logging.getLogger("connectors.mqtt_host")

TICK_SECONDS = 0.5
MAX_PENDING = 100_000  # records held per session while the database is away


def signature_of(connector: Connector) -> str:
    """What a session depends on: a change of any of these restarts it."""
    parts = [
        connector.settings,
        connector.credentials_encrypted,
        connector.factory.network_allowlist,
        list(django_settings.CONNECTOR_DEFAULT_ALLOWLIST),
    ]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class HostRunner:
    """Serves every enabled MQTT connector until ``stop`` is set."""

    def __init__(self, *, poll_seconds: float = 3.0):
        self.poll_seconds = poll_seconds
        self.process = f"{socket.gethostname()}:{os.getpid()}"
        self.sessions: dict[int, HostSession] = {}
        self.connectors: dict[int, Connector] = {}
        self.refused: dict[int, str] = {}  # connector → signature whose settings were refused

    def run(self, stop: threading.Event) -> None:
        next_poll = 0.0
        try:
            while not stop.is_set():
                try:
                    if time.monotonic() >= next_poll:
                        next_poll = time.monotonic() + self.poll_seconds
                        self.reconcile()
                        self.heartbeat()
                    self.record()
                except Exception:  # the database went away: keep the sessions, try again
                    logger.exception("mqtt_host: a round failed; trying again")
                    close_old_connections()
                stop.wait(TICK_SECONDS)
        finally:
            self.shutdown()
            connections.close_all()  # this thread's connections

    # --- which connectors ---------------------------------------------------------------
    def reconcile(self) -> None:
        """Start, restart and stop sessions to match the enabled MQTT connectors."""
        close_old_connections()
        wanted: dict[int, HostSession] = {}
        connectors = Connector.objects.filter(kind=ConnectorKind.MQTT, enabled=True)
        for connector in connectors.select_related("factory"):
            signature = signature_of(connector)
            session = self.sessions.get(connector.pk)
            self.connectors[connector.pk] = connector
            if session is not None and session.signature == signature:
                wanted[connector.pk] = session
                continue
            if self.refused.get(connector.pk) == signature:
                continue
            if session is not None:
                logger.info("mqtt_host: connector %s changed; restarting its session", connector.pk)
                self._close(session, final=False)
            opened = self._open(connector, signature)
            if opened is not None:
                wanted[connector.pk] = opened
        for pk, session in self.sessions.items():
            if pk not in wanted and session.signature != "closed":
                logger.info("mqtt_host: connector %s removed or disabled; stopping", pk)
                self._close(session, final=True)
        self.sessions = wanted
        self.connectors = {pk: c for pk, c in self.connectors.items() if pk in wanted}

    def _open(self, connector: Connector, signature: str) -> HostSession | None:
        state, _ = MqttHostState.objects.get_or_create(connector=connector)
        try:
            settings = validate_settings(connector.kind, connector.settings)
            host, port = adapter_class(connector.kind).target_of(settings)
            target = resolve_target(connector.factory, host, port)
            credentials = connector.credentials
        except (ValueError, TargetBlocked, CredentialsError) as exc:
            self.refused[connector.pk] = signature
            MqttHostState.objects.filter(pk=connector.pk).update(
                process=self.process, heartbeat_at=None, connected_at=None, message=str(exc)
            )
            logger.warning("mqtt_host: connector %s not served: %s", connector.pk, exc)
            return None
        self.refused.pop(connector.pk, None)
        host_id = settings.get("host_id") or f"coe-{connector.pk}"
        known = {**connector.cursor.get("births", {}), **state.known}
        session = HostSession(
            connector_id=connector.pk,
            host_id=host_id,
            settings=settings,
            credentials=credentials,
            address=target.address,
            port=target.port,
            known=known,
            signature=signature,
        )
        MqttHostState.objects.filter(pk=connector.pk).update(
            host_id=host_id,
            process=self.process,
            heartbeat_at=timezone.now(),
            connected_at=None,
            devices={},
            nodes={},
            message="",
        )
        session.start()
        logger.info("mqtt_host: serving connector %s as host %s", connector.pk, host_id)
        return session

    def _close(self, session: HostSession, *, final: bool) -> None:
        session.stop()
        self._record(session)
        if final:
            MqttHostState.objects.filter(pk=session.connector_id).update(
                heartbeat_at=None, connected_at=None, message="host application stopped"
            )
        session.signature = "closed"

    # --- what the sessions heard --------------------------------------------------------
    def heartbeat(self) -> None:
        if self.sessions:
            MqttHostState.objects.filter(pk__in=list(self.sessions)).update(
                heartbeat_at=timezone.now(), process=self.process
            )

    def record(self) -> None:
        for session in list(self.sessions.values()):
            self._record(session)

    def _record(self, session: HostSession) -> None:
        taken = session.take()
        connector = self.connectors.get(session.connector_id)
        try:
            if taken.items and connector is not None:
                self._ingest(connector, taken.items, session)
            light = {k: v for k, v in taken.state.items() if k not in ("devices", "nodes", "known")}
            if taken.structural or light != session.written:  # a quiet round writes nothing
                MqttHostState.objects.filter(pk=session.connector_id).update(**taken.state)
                session.written = light
        except Exception:
            # The database is away: keep what was heard (re-ingesting it writes nothing twice).
            kept = taken.items if len(taken.items) < MAX_PENDING else []
            session.give_back(kept, structural=taken.structural)
            raise

    def _ingest(self, connector: Connector, items: list, session: HostSession) -> None:
        """Births, deaths and data through the shared ingest (no run: the host is not a
        sync, and never marks anything stale). One transaction per round: the ingest then
        writes on this thread's connection (no background writers to start and end every
        half second), and a round that fails leaves nothing half-written."""
        ingest = IngestSession(connector=connector)
        try:
            with transaction.atomic():
                ingest.extend(items)
                ingest.flush()
        finally:
            ingest.close()
        if ingest.errors:
            session.note_rejected(ingest.counts["rejected"], ingest.errors)

    def shutdown(self) -> None:
        """Every session publishes its offline STATE and disconnects; the state says so."""
        for session in self.sessions.values():
            try:
                self._close(session, final=True)
            except Exception:
                logger.exception("mqtt_host: connector %s: clean stop failed", session.connector_id)
        self.sessions = {}
