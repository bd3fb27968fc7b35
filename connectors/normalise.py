"""Normalisation of identity values: serial numbers and MAC addresses (framework-free)."""

from __future__ import annotations

import re

# Values vendors and BIOSes put where a serial number should be: never an identity.
JUNK_SERIALS = frozenset(
    {
        "",
        "n/a",
        "na",
        "none",
        "null",
        "unknown",
        "-",
        "default string",
        "to be filled by o.e.m.",
        "to be filled by oem",
        "system serial number",
        "not specified",
        "not applicable",
        "0123456789",
    }
)
_SERIAL_STRIP = re.compile(r"[\s\-_.:/]+")
_HEX = re.compile(r"[^0-9a-f]")
_CANONICAL_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")


def normalise_serial(value: str | None) -> str:
    """The comparable form of a serial number ("" for junk): no separators, upper case."""
    if not value:
        return ""
    text = str(value).strip()
    if text.casefold() in JUNK_SERIALS:
        return ""
    compact = (text if text.isalnum() else _SERIAL_STRIP.sub("", text)).upper()
    if not compact.strip("0") or compact.casefold() in JUNK_SERIALS:
        return ""
    return compact


def normalise_mac(value: str | None) -> str:
    """``aa:bb:cc:dd:ee:ff`` from any common notation; "" when not a usable MAC."""
    if not value:
        return ""
    text = str(value).lower()
    if _CANONICAL_MAC.fullmatch(text):
        return "" if text in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff") else text
    d = _HEX.sub("", text)
    if len(d) != 12 or d in ("000000000000", "ffffffffffff"):
        return ""
    return f"{d[0:2]}:{d[2:4]}:{d[4:6]}:{d[6:8]}:{d[8:10]}:{d[10:12]}"


def clean_text(value, limit: int) -> str:
    """A stripped string of at most ``limit`` characters ("" for None), without NUL
    characters (fixed-width device strings are often NUL-padded; databases refuse them)."""
    if value is None:
        return ""
    text = str(value)
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text.strip()[:limit]
