"""Connector schedules: "" (manual), minutes ("15"), ``@hourly``, ``@daily``, ``*/N * * * *``."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

_CRON_EVERY = re.compile(r"^\*/(\d+) \* \* \* \*$")
_NAMED = {"@hourly": 60, "@daily": 24 * 60, "@weekly": 7 * 24 * 60}


def parse_schedule(schedule: str) -> int | None:
    """The interval in minutes, or None for manual; ValueError for anything else."""
    text = (schedule or "").strip().lower()
    if not text:
        return None
    if text.isdigit() and int(text) > 0:
        return int(text)
    if text in _NAMED:
        return _NAMED[text]
    match = _CRON_EVERY.match(text)
    if match and int(match.group(1)) > 0:
        return int(match.group(1))
    raise ValueError(
        "use minutes (e.g. 15), @hourly, @daily, @weekly or '*/N * * * *'; empty = manual"
    )


def is_due(schedule: str, last_sync_at: datetime | None, now: datetime) -> bool:
    """True when a scheduled connector's interval has passed since its last sync."""
    minutes = parse_schedule(schedule)
    if minutes is None:
        return False
    return last_sync_at is None or now - last_sync_at >= timedelta(minutes=minutes)
