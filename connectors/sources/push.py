"""The ``upload`` kind: a factory's push connector, fed by uploads and the push API.

It has nothing to fetch: data arrives through ``connectors.imports`` (the upload page,
``/api/ingest/…/`` and the import commands), which ingests devices under this connector
so that pushed devices reconcile with every other source.
"""

from __future__ import annotations

from collections.abc import Iterator

from connectors.sources.base import Adapter, Item, only_keys


class PushAdapter(Adapter):
    """A connector that receives data by push; a sync of it is refused with a reason."""

    kind = "upload"
    default_port = 0

    @classmethod
    def validate_settings(cls, settings: dict) -> dict:
        only_keys(settings, set())
        return {}

    @classmethod
    def target_of(cls, settings: dict) -> tuple[str, int]:
        raise ValueError("upload connectors receive data by push (uploads, /api/ingest/); no sync")

    def fetch(self) -> Iterator[Item]:
        raise ValueError("upload connectors receive data by push (uploads, /api/ingest/); no sync")
