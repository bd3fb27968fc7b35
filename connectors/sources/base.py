"""What every adapter is: settings validation, a target to connect to, and a fetch."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any, ClassVar

from coe.network import Target
from connectors.records import DeviceRecord, MetricRecord, RecordError


def require(settings: dict, key: str, kind: type | tuple[type, ...] = str) -> Any:
    value = settings.get(key)
    if value in (None, ""):
        raise ValueError(f"{key}: required")
    if not isinstance(value, kind):
        raise ValueError(f"{key}: wrong type")
    return value


def port_of(settings: dict, default: int) -> int:
    port = settings.get("port", default)
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError("port: must be an integer 1–65535")
    return port


def only_keys(settings: dict, allowed: set[str]) -> None:
    unknown = sorted(set(settings) - allowed)
    if unknown:
        raise ValueError(f"unknown setting(s): {', '.join(unknown)}")


Item = DeviceRecord | MetricRecord | RecordError


class Adapter(ABC):
    """Base of the source adapters.

    ``fetch()`` yields device records, metric records and record errors; it raises
    ``SourceIncomplete`` when the source stops part way, or a connection error when it
    cannot be reached at all. ``target`` is already allowlist-checked and resolved.
    """

    kind: ClassVar[str]
    default_port: ClassVar[int]

    def __init__(
        self,
        *,
        settings: dict,
        credentials: dict,
        target: Target,
        cursor: dict,
        connector_id: int | None = None,
    ):
        self.settings = settings
        self.credentials = credentials
        self.target = target
        self.cursor = dict(cursor or {})
        # Lets an adapter read state kept beside its connector (the MQTT host's births).
        self.connector_id = connector_id
        self.note = ""  # what a successful run's message says about how it read the source

    @classmethod
    @abstractmethod
    def validate_settings(cls, settings: dict) -> dict:
        """The settings checked and normalised; ValueError naming the bad key."""

    @classmethod
    def target_of(cls, settings: dict) -> tuple[str, int]:
        """The (host, port) the settings point at, before the allowlist check."""
        return settings["host"], settings.get("port", cls.default_port)

    @abstractmethod
    def fetch(self) -> Iterator[Item]:
        """Records read from the source, streamed."""

    def connection_errors(self) -> tuple[type[BaseException], ...]:
        """Exceptions that mean 'source unreachable' (retried with backoff)."""
        return (ConnectionError, OSError, TimeoutError)
