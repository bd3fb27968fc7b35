"""CSV/XLSX exports of tools, adoptions and findings, written by :mod:`coe.exports`.

The frames are built here; :mod:`coe.exports` writes them and neutralises every text
cell a spreadsheet would read as a formula.
"""

from __future__ import annotations

import pandas as pd
from django.db.models import QuerySet
from django.http import HttpResponse

from coe import exports
from registry.models import Adoption, DuplicateFinding, Tool


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


def response(frame: pd.DataFrame, name: str, fmt: str) -> HttpResponse:
    """The frame as a CSV or XLSX download (one sheet named after the export)."""
    header = [str(c) for c in frame.columns]
    rows = [[_plain(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    if fmt == "xlsx":
        return exports.xlsx_response(f"{name}.xlsx", {name: (header, rows)})
    return exports.csv_response(f"{name}.csv", header, rows)


def _plain(value):
    """A frame cell as the writer wants it: pandas' missing values are empty cells."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value
