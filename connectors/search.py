"""What the global search (``coe.search``) finds among devices: by serial number, MAC
address or name, in the factories the user may see."""

from __future__ import annotations

import re

from django.db.models import Q

from coe.search import SearchHit
from connectors.selectors import devices_for

_NOT_HEX = re.compile(r"[^0-9a-f]")


def find_devices(user, query: str, limit: int) -> list[SearchHit]:
    condition = Q(name__icontains=query) | Q(serial_number__icontains=query)
    # A MAC typed with dashes, dots or without separators still finds aa:bb:cc:dd:ee:ff.
    hex_digits = _NOT_HEX.sub("", query.lower())
    if len(hex_digits) >= 4 and len(hex_digits) <= 12:
        pairs = [hex_digits[i : i + 2] for i in range(0, len(hex_digits), 2)]
        if all(len(p) == 2 for p in pairs):
            condition |= Q(mac__icontains=":".join(pairs))
    condition |= Q(mac__icontains=query)
    devices = devices_for(user).filter(condition).select_related("factory").order_by("name", "id")
    return [
        SearchHit(
            d.name or d.serial_number or d.mac or f"Device {d.pk}",
            d.get_absolute_url(),
            " · ".join(p for p in (d.factory.name, d.serial_number, d.mac) if p),
        )
        for d in devices[:limit]
    ]
