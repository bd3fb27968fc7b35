"""One way to show money and numbers on every page.

``{% load coe_format %}`` then:

- ``{{ value|money:"EUR" }}`` → ``600,000 EUR`` (no decimals; ``money_cents`` keeps two);
- ``{{ value|number }}`` / ``{{ value|number:1 }}`` → ``12,345`` / ``998.3``;
- ``{{ value|hours }}`` → ``998.3 h``; ``{{ value|percent }}`` → ``42 %`` (a 0–100 value),
  ``{{ value|ratio_percent }}`` for a 0–1 ratio; ``{{ value|months }}`` → ``14.5 months``.

A missing value (``None`` or empty) shows as an em dash, never as ``None`` or ``0``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()

MISSING = "—"


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None


def format_number(value, places: int = 0) -> str:
    """``value`` with a comma between thousands and ``places`` decimals; ``—`` if missing."""
    number = _decimal(value)
    if number is None:
        return MISSING
    places = max(int(places), 0)
    text = f"{number:,.{places}f}"
    # A value that rounds to zero shows without a minus sign.
    return text[1:] if text.startswith("-") and not text.strip("-0.,") else text


@register.filter
def number(value, places=0) -> str:
    return format_number(value, places)


def format_rate(value) -> str:
    """A conversion rate: every significant decimal, none of the trailing zeros."""
    number = _decimal(value)
    if number is None:
        return MISSING
    places = max(-number.normalize().as_tuple().exponent, 0)
    return format_number(number, places)


@register.filter
def rate(value) -> str:
    return format_rate(value)


@register.filter
def money(value, currency="") -> str:
    text = format_number(value, 0)
    return f"{text} {currency}".strip() if text != MISSING and currency else text


@register.filter
def money_cents(value, currency="") -> str:
    text = format_number(value, 2)
    return f"{text} {currency}".strip() if text != MISSING and currency else text


@register.filter
def hours(value, places=1) -> str:
    text = format_number(value, places)
    return text if text == MISSING else f"{text} h"


@register.filter
def percent(value, places=0) -> str:
    text = format_number(value, places)
    return text if text == MISSING else f"{text} %"


@register.filter
def ratio_percent(value, places=0) -> str:
    number = _decimal(value)
    return percent(None if number is None else number * 100, places)


@register.filter
def months(value, places=None) -> str:
    """Whole months without decimals, others with one (unless ``places`` says)."""
    number = _decimal(value)
    if number is None:
        return MISSING
    if places is None:
        places = 0 if number == number.to_integral_value() else 1
    text = format_number(number, places)
    return f"{text} month" if number == 1 else f"{text} months"
