"""CSV/XLSX exports of tools, adoptions and findings, safe to open in a spreadsheet.

Every text cell that a spreadsheet would read as a formula (starting with ``= + - @``,
a tab or a carriage return) gets a leading apostrophe.
"""

from __future__ import annotations

import io

import pandas as pd
from django.db.models import QuerySet

from registry.models import Adoption, DuplicateFinding, Tool

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """``"=HYPERLINK(…)"`` → ``"'=HYPERLINK(…)"``; numbers and other text unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def tools_frame(tools: QuerySet[Tool]) -> pd.DataFrame:
    rows = [
        {
            "name": t.name,
            "vendor": t.vendor,
            "capabilities": ";".join(c.name for c in t.capabilities.all()),
            "ring": t.ring,
            "aliases": ";".join(a.name for a in t.aliases.all()),
            "annual_cost_per_seat": t.annual_cost_per_seat,
            "description": t.description,
            "homepage": t.homepage,
        }
        for t in tools.prefetch_related("capabilities", "aliases")
    ]
    columns = ["name", "vendor", "capabilities", "ring", "aliases", "annual_cost_per_seat",
               "description", "homepage"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def adoptions_frame(adoptions: QuerySet[Adoption]) -> pd.DataFrame:
    rows = [
        {
            "factory": a.factory.slug,
            "tool": a.declared_name,
            "vendor": a.declared_vendor,
            "capability": a.declared_capability,
            "seats": a.seats,
            "annual_cost": a.annual_cost,
            "resolved_tool": a.tool.name if a.tool_id else "",
            "resolution_confidence": a.resolution_confidence,
            "status": a.status,
        }
        for a in adoptions.select_related("factory", "tool")
    ]
    columns = ["factory", "tool", "vendor", "capability", "seats", "annual_cost",
               "resolved_tool", "resolution_confidence", "status"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def findings_frame(findings: QuerySet[DuplicateFinding]) -> pd.DataFrame:
    rows = [
        {
            "id": f.pk,
            "kind": f.kind,
            "capability": f.capability.name if f.capability_id else "",
            "scope": f.scope.slug if f.scope_id else "",
            "tools": ";".join(t.name for t in f.tools.all()),
            "factories": ";".join(x.slug for x in f.factories.all()),
            "annual_cost_at_stake": f.annual_cost_at_stake,
            "suggested_standard": f.suggested_standard.name if f.suggested_standard_id else "",
            "status": f.status,
            "waiver_reason": f.waiver_reason,
            "waiver_expires_on": f.waiver_expires_on,
        }
        for f in findings.select_related(
            "capability", "scope", "suggested_standard"
        ).prefetch_related("tools", "factories")
    ]
    columns = ["id", "kind", "capability", "scope", "tools", "factories",
               "annual_cost_at_stake", "suggested_standard", "status", "waiver_reason",
               "waiver_expires_on"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def render(frame: pd.DataFrame, fmt: str) -> bytes:
    """The frame as CSV or XLSX bytes, formulas neutralised."""
    safe = frame.map(neutralise) if len(frame) else frame
    if fmt == "xlsx":
        buffer = io.BytesIO()
        safe.to_excel(buffer, index=False, engine="openpyxl")
        return buffer.getvalue()
    return safe.to_csv(index=False).encode("utf-8")
