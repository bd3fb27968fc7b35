"""Cell parsers of the fact formats (metrics, counters, finance, devices), framework-free.

Tables are read by :mod:`coe.tables` into ``(row number, {column: value})`` pairs; each
format's columns are parsed here by small typed parsers that raise ``ValueError`` with the
problem. Every bad cell becomes one ``row N: column: problem`` line; the caller rejects
the whole file when there is any. Dates must fall in 1900–2100 and numbers be finite: a
year-1 period or a NaN would be stored, then break every later read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from coe.validation import in_range


def text(value, limit: int = 200, required: bool = False) -> str:
    result = "" if value is None else str(value).strip()
    if required and not result:
        raise ValueError("required")
    if len(result) > limit:
        raise ValueError(f"longer than {limit} characters")
    return result


def moment(value) -> datetime:
    """An aware datetime from ISO 8601 text or a spreadsheet datetime (naive = UTC)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        raw = text(value, 40, required=True)
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not an ISO 8601 date-time: {raw!r}") from None
    in_range(parsed)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def day(value) -> date:
    """A date from ``YYYY-MM-DD`` or a spreadsheet date."""
    if isinstance(value, datetime):
        parsed = value.date()
    elif isinstance(value, date):
        parsed = value
    else:
        raw = text(value, 40, required=True)
        try:
            parsed = date.fromisoformat(raw[:10])
        except ValueError:
            raise ValueError(f"not a date (YYYY-MM-DD): {raw!r}") from None
    in_range(parsed)
    return parsed


def number(value, *, minimum: float = 0.0) -> float:
    try:
        result = float(value)  # str, int and float alike; surrounding blanks are fine
    except OverflowError:
        raise ValueError("not a finite number") from None
    except (TypeError, ValueError):
        if value is None or str(value).strip() == "":
            raise ValueError("required") from None
        raise ValueError(f"not a number: {str(value).strip()[:40]!r}") from None
    if result != result or result in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
    if result < minimum:
        raise ValueError(f"must be at least {minimum:g}")
    return result


def count(value) -> int:
    result = number(value)
    if result != int(result):
        raise ValueError("must be a whole number")
    return int(result)


def money(value) -> Decimal:
    raw = str(value).strip() if value is not None else ""
    if not raw:
        raise ValueError("required")
    try:
        result = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"not an amount: {raw!r}") from None
    if not result.is_finite() or result < 0:
        raise ValueError("must be a non-negative amount")
    if result != result.quantize(Decimal("0.01")):
        raise ValueError("at most two decimals")
    if result >= Decimal("1e14"):
        raise ValueError("too large")
    return result.quantize(Decimal("0.01"))


def currency(value) -> str:
    result = text(value, 3).upper()
    if result and (len(result) != 3 or not result.isalpha()):
        raise ValueError("an ISO 4217 code such as EUR")
    return result


def choice(options: tuple[str, ...]) -> Callable:
    def parse(value) -> str:
        result = text(value, 40, required=True).lower()
        if result not in options:
            raise ValueError(f"one of {', '.join(options)}")
        return result

    return parse
