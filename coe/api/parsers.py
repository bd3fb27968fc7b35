"""The API's JSON parser: DRF's, bounded in size and nesting, and refusing NUL characters.

* The body is read up to its endpoint's limit (``coe.limits.body_limit``) and no further.
* Nesting deeper than ``JSON_MAX_DEPTH`` is a 400; so is nesting deep enough to exhaust
  the C decoder's recursion guard (``RecursionError`` is caught, never a 500).
* ``NaN`` and ``Infinity`` are not JSON (DRF's strict constants): 400.
* A NUL character in any key or string value is a 400 (PostgreSQL cannot store it).

The depth and NUL checks walk the decoded value with an explicit stack, so they cost one
pass and no recursion.
"""

from __future__ import annotations

import json

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from coe.limits import RequestTooLarge, body_limit


def check_value(value, max_depth: int) -> None:
    """Raise ``ValueError`` when ``value`` nests deeper than ``max_depth`` or holds a NUL."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > max_depth:
                raise ValueError(f"nested deeper than {max_depth} levels")
            for key, child in item.items():
                if "\x00" in key:
                    raise ValueError("a NUL character in a key")
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            if depth > max_depth:
                raise ValueError(f"nested deeper than {max_depth} levels")
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str) and "\x00" in item:
            raise ValueError("a NUL character in a string")


def loads(raw: bytes | str, max_depth: int | None = None):
    """JSON text → value, with the checks above; ``ValueError`` with the problem."""
    max_depth = settings.JSON_MAX_DEPTH if max_depth is None else max_depth
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError(f"nested deeper than {max_depth} levels") from None
    check_value(value, max_depth)
    return value


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with the limits of this module."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        request = parser_context.get("request")
        limit = body_limit(request) if request is not None else settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge(limit)
        encoding = parsers.get_encoding(parser_context)
        try:
            return loads(raw.decode(encoding))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
