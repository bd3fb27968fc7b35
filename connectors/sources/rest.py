"""REST JSON sources: a generic adapter, and the NetBox and Snipe-IT device inventories.

Generic settings: ``{base_url, path, record: device | metric | finance, results_path?, mapping,
params?, auth_header?, auth_prefix?, pagination?: {style: none | page | offset | cursor |
next, page_param?, size_param?, page_size?, first_page?, offset_param?, limit_param?,
cursor_param?, cursor_path?, next_path?}}``, credentials ``{token}``. ``mapping`` maps a
record field to a dotted path in each result item.

NetBox: ``GET /api/dcim/devices/`` → ``{count, next, previous, results}`` (limit/offset,
followed through ``next``), ``Authorization: Token <token>``. Snipe-IT: ``GET
/api/v1/hardware`` → ``{total, rows}`` (offset/limit), Bearer token; Snipe-IT escapes HTML
in its values, so every string is decoded with ``html.unescape``.
"""

from __future__ import annotations

import html
from collections.abc import Iterator

from connectors import tables
from connectors.fact_ingest import FactIngestSession, FinanceRecord
from connectors.records import DEVICE_FIELDS, DeviceRecord, MetricRecord, RecordError
from connectors.sources.base import Item, only_keys
from connectors.sources.http import (
    CredentialsRejected,
    HTTPAdapter,
    HTTPSourceError,
    dig,
    validate_common,
)

METRIC_FIELDS = ("metric", "value", "period_start", "period_end", "unit", "line")
FINANCE_FIELDS = ("date", "kind", "amount", "currency", "category", "description")
RECORD_FIELDS = {"device": DEVICE_FIELDS, "metric": METRIC_FIELDS, "finance": FINANCE_FIELDS}
REQUIRED_FIELDS = {
    "device": ("source_id",),
    "metric": ("metric", "value", "period_start"),
    "finance": ("date", "kind", "amount"),
}
STYLES = ("none", "page", "offset", "cursor", "next")
PAGINATION_KEYS = {
    "style",
    "page_param",
    "size_param",
    "page_size",
    "first_page",
    "offset_param",
    "limit_param",
    "cursor_param",
    "cursor_path",
    "next_path",
}


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):  # {"name": …} / {"value": …} objects
        value = value.get("name", value.get("value", value.get("display", "")))
    return str(value).strip()


class RestAdapter(HTTPAdapter):
    """Any paginated JSON API, through a field mapping."""

    kind = "rest"
    session_class = FactIngestSession

    @classmethod
    def validate_settings(cls, settings: dict) -> dict:
        clean = validate_common(
            settings,
            {
                "path",
                "record",
                "results_path",
                "mapping",
                "params",
                "auth_header",
                "auth_prefix",
                "pagination",
            },
        )
        record = settings.get("record", "device")
        if record not in RECORD_FIELDS:
            raise ValueError("record: device, metric or finance")
        clean["record"] = record
        mapping = settings.get("mapping") or {}
        allowed = RECORD_FIELDS[record]
        if not isinstance(mapping, dict) or not all(
            k in allowed and isinstance(v, str) and v for k, v in mapping.items()
        ):
            raise ValueError(f"mapping: {{field: dotted path}} with fields among {allowed}")
        missing = [f for f in REQUIRED_FIELDS[record] if f not in mapping]
        if missing:
            raise ValueError(f"mapping: needs {', '.join(missing)}")
        clean["mapping"] = mapping
        if not isinstance(settings.get("params", {}), dict):
            raise ValueError("params: a JSON object")
        pagination = settings.get("pagination") or {"style": "none"}
        if not isinstance(pagination, dict):
            raise ValueError("pagination: a JSON object")
        only_keys(pagination, PAGINATION_KEYS)
        if pagination.get("style", "none") not in STYLES:
            raise ValueError(f"pagination.style: one of {', '.join(STYLES)}")
        size = pagination.get("page_size", 100)
        if not isinstance(size, int) or not 1 <= size <= 10000:
            raise ValueError("pagination.page_size: 1–10000")
        clean["pagination"] = {"style": "none", **pagination}
        return clean

    def auth_headers(self) -> dict[str, str]:
        token = self.credentials.get("token")
        if not token:
            return {}
        header = self.settings.get("auth_header", "Authorization")
        prefix = self.settings.get("auth_prefix", "Bearer ")
        return {header: f"{prefix}{token}"}

    # --- paging ------------------------------------------------------------------------
    def results(self, body) -> list:
        path = self.settings.get("results_path", "")
        found = dig(body, path) if path else body
        if not path and isinstance(body, dict):
            found = next((body[k] for k in ("results", "rows", "data", "items") if k in body), None)
        if not isinstance(found, list):
            raise HTTPSourceError(f"no result list at {path or 'the top level'!r}")
        return found

    def items(self) -> Iterator:
        """The raw result items of every page, following the configured pagination."""
        p = self.settings["pagination"]
        style, size = p["style"], p.get("page_size", 100)
        params = dict(self.settings.get("params") or {})
        state = {"url": self.settings.get("path", ""), "cursor": None}

        def page(client, number):
            query = dict(params)
            url = state["url"]
            if style == "page":
                query[p.get("page_param", "page")] = p.get("first_page", 1) + number
                query[p.get("size_param", "per_page")] = size
            elif style == "offset":
                query[p.get("offset_param", "offset")] = number * size
                query[p.get("limit_param", "limit")] = size
            elif style == "cursor" and state["cursor"]:
                query[p.get("cursor_param", "cursor")] = state["cursor"]
            elif style == "next" and number:
                query = {}  # the next link carries its own query
            body, _ = self.get_json(client, url, query or None)
            rows = self.results(body)
            if style == "page" or style == "offset":
                return rows, len(rows) >= size
            if style == "cursor":
                state["cursor"] = dig(body, p.get("cursor_path", "next_cursor"))
                return rows, bool(state["cursor"]) and bool(rows)
            if style == "next":
                link = dig(body, p.get("next_path", "next"))
                if link:
                    state["url"] = link
                return rows, bool(link)
            return rows, False

        return self.paged(page)

    def fetch(self) -> Iterator[Item]:
        mapping = self.settings["mapping"]
        for item in self.items():
            values = {f: dig(item, path) for f, path in mapping.items()}
            if self.settings["record"] == "device":
                yield self.device(values)
            elif self.settings["record"] == "finance":
                yield self.finance(values)
            else:
                yield self.metric(values)

    def device(self, values: dict) -> DeviceRecord | RecordError:
        fields = {f: _text(values.get(f)) for f in DEVICE_FIELDS}
        if not fields["source_id"]:
            return RecordError("", "item without a source id")
        return DeviceRecord(**fields)

    def metric(self, values: dict) -> MetricRecord | RecordError:
        try:
            start = tables.moment(values.get("period_start"))
            end = tables.moment(values.get("period_end") or values.get("period_start"))
            return MetricRecord(
                metric=tables.text(values.get("metric"), 120, required=True),
                value=tables.number(values.get("value"), minimum=float("-inf")),
                period_start=start,
                period_end=end,
                unit=_text(values.get("unit")),
                line=_text(values.get("line")),
            )
        except ValueError as exc:
            return RecordError(_text(values.get("metric")), str(exc))

    def finance(self, values: dict) -> FinanceRecord | RecordError:
        """A finance record; amounts and dates are checked by the import rules at ingest."""
        try:
            return FinanceRecord(
                date=tables.day(values.get("date")),
                kind=_text(values.get("kind")).lower(),
                amount=tables.money(values.get("amount")),
                currency=_text(values.get("currency")).upper(),
                category=_text(values.get("category")),
                description=_text(values.get("description")),
            )
        except ValueError as exc:
            return RecordError(_text(values.get("description")), str(exc))


class NetBoxAdapter(RestAdapter):
    """NetBox DCIM devices (``/api/dcim/devices/``), limit/offset followed via ``next``."""

    kind = "netbox"

    @classmethod
    def validate_settings(cls, settings: dict) -> dict:
        clean = validate_common(settings, {"filters", "mac_path", "page_size"})
        if not isinstance(settings.get("filters", {}), dict):
            raise ValueError("filters: a JSON object of NetBox query filters (e.g. site)")
        size = settings.get("page_size", 250)
        if not isinstance(size, int) or not 1 <= size <= 1000:
            raise ValueError("page_size: 1–1000")
        clean["page_size"] = size
        clean["mac_path"] = str(settings.get("mac_path") or "primary_mac_address.mac_address")
        return clean

    def auth_headers(self) -> dict[str, str]:
        token = self.credentials.get("token")
        return {"Authorization": f"Token {token}"} if token else {}

    def items(self) -> Iterator:
        state = {"url": "api/dcim/devices/"}
        params = {**(self.settings.get("filters") or {}), "limit": self.settings["page_size"]}

        def page(client, number):
            body, _ = self.get_json(client, state["url"], params if number == 0 else None)
            if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                raise HTTPSourceError("not a NetBox list answer ({count, next, results})")
            if body.get("next"):
                state["url"] = body["next"]
            return body["results"], bool(body.get("next"))

        return self.paged(page)

    def fetch(self) -> Iterator[Item]:
        for item in self.items():
            device_type = item.get("device_type") or {}
            mac = dig(item, self.settings["mac_path"]) or dig(item, "custom_fields.mac_address")
            yield DeviceRecord(
                source_id=str(item.get("id", "")),
                serial_number=_text(item.get("serial")),
                mac=_text(mac),
                manufacturer=_text(device_type.get("manufacturer")),
                model=_text(device_type.get("model")),
                name=_text(item.get("name")),
                online=_text(dig(item, "status.value")) not in ("offline", "decommissioning"),
            )


class SnipeITAdapter(RestAdapter):
    """Snipe-IT hardware assets (``/api/v1/hardware``), offset/limit against ``total``."""

    kind = "snipeit"

    @classmethod
    def validate_settings(cls, settings: dict) -> dict:
        clean = validate_common(settings, {"filters", "mac_field", "page_size"})
        if not isinstance(settings.get("filters", {}), dict):
            raise ValueError("filters: a JSON object of Snipe-IT query filters")
        size = settings.get("page_size", 500)
        if not isinstance(size, int) or not 1 <= size <= 500:
            raise ValueError("page_size: 1–500")
        clean["page_size"] = size
        clean["mac_field"] = str(settings.get("mac_field") or "MAC Address")
        return clean

    def auth_headers(self) -> dict[str, str]:
        return RestAdapter.auth_headers(self)

    def items(self) -> Iterator:
        size = self.settings["page_size"]
        filters = self.settings.get("filters") or {}

        def page(client, number):
            params = {**filters, "offset": number * size, "limit": size, "sort": "id"}
            body, _ = self.get_json(client, "api/v1/hardware", params)
            if isinstance(body, dict) and body.get("status") == "error":
                # Snipe-IT answers 200 with an error envelope; its text is not copied (an
                # upstream body stays out of run messages), only recognised.
                if "unauthori" in str(body.get("messages", "")).lower():
                    raise CredentialsRejected("Snipe-IT: the source refused the credentials")
                raise HTTPSourceError("Snipe-IT answered with an error status")
            if not isinstance(body, dict) or not isinstance(body.get("rows"), list):
                raise HTTPSourceError("not a Snipe-IT list answer ({total, rows})")
            rows = body["rows"]
            return rows, bool(rows) and (number + 1) * size < int(body.get("total") or 0)

        return self.paged(page)

    def fetch(self) -> Iterator[Item]:
        mac_field = self.settings["mac_field"]
        for item in self.items():
            custom = item.get("custom_fields") or {}
            mac = (custom.get(mac_field) or {}).get("value") if isinstance(custom, dict) else ""
            meta = _text(dig(item, "status_label.status_meta"))
            yield DeviceRecord(
                source_id=str(item.get("id", "")),
                serial_number=html.unescape(_text(item.get("serial"))),
                mac=html.unescape(_text(mac)),
                manufacturer=html.unescape(_text(item.get("manufacturer"))),
                model=html.unescape(_text(item.get("model"))),
                name=html.unescape(_text(item.get("name")) or _text(item.get("asset_tag"))),
                online=meta not in ("archived", "undeployable"),
            )
