"""Checks every input goes through at the edge, shared by imports, the API and pages.

Dates must fall in the years 1900–2100: a year-1 date is stored by PostgreSQL as 1 BC
and a year-9999 date overflows the first time a day is added to it, so either breaks
later reads for everyone. Numbers must be finite (NaN and Infinity compare false with
everything and cannot be stored in a decimal column).
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

from django.core.exceptions import ValidationError

FIRST_YEAR, LAST_YEAR = 1900, 2100


def in_range(value: dt.date) -> None:
    """``ValueError`` unless the date (or date-time) falls in the years 1900–2100."""
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"outside the years {FIRST_YEAR}–{LAST_YEAR}: {value.isoformat()}")


def finite(value: float | Decimal) -> None:
    """``ValueError`` for NaN and ±Infinity."""
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError("not a finite number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("not a finite number")


def validate_year_range(value: dt.date) -> None:
    """A Django/DRF field validator form of :func:`in_range`."""
    try:
        in_range(value)
    except ValueError as exc:
        raise ValidationError(str(exc), code="out_of_range") from None
