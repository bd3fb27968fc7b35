"""The CNCF landscape (``../shared/data/cncf/landscape.yml``) as a registry import frame.

Each item becomes a tool; its subcategory is its capability and every ``second_path``
(``"Category / Subcategory"``) adds another. Used by the real-data test and the benchmark.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from registry.resolution import normalize

DEFAULT_PATH = (
    Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "cncf" / "landscape.yml"
)


def landscape_path() -> Path:
    """``../shared/data/cncf/landscape.yml`` relative to the repository root."""
    return DEFAULT_PATH


def landscape_items(path: Path | str | None = None) -> list[dict]:
    """``[{name, homepage, description, capabilities: [subcategory, …]}]``; items whose names
    normalise alike (``Snyk`` listed twice) are merged, their capabilities joined."""
    with open(path or landscape_path(), encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    items: dict[str, dict] = {}
    for category in data.get("landscape", []):
        for sub in category.get("subcategories", []) or []:
            for item in sub.get("items", []) or []:
                name = str(item.get("name", "")).strip()
                if not name:
                    continue
                caps = [sub["name"]] + [
                    p.split("/", 1)[-1].strip() for p in item.get("second_path", []) or []
                ]
                entry = items.setdefault(
                    normalize(name),
                    {
                        "name": name,
                        "homepage": item.get("homepage_url", "") or "",
                        "description": (item.get("description") or "").replace("\n", " "),
                        "capabilities": [],
                    },
                )
                for cap in caps:
                    if cap not in entry["capabilities"]:
                        entry["capabilities"].append(cap)
    return list(items.values())


def landscape_frame(items: list[dict]) -> pd.DataFrame:
    """The items in the CONTRACT.md tools format (all in the assess ring)."""
    return pd.DataFrame(
        [
            {
                "name": i["name"],
                "vendor": "",
                "capabilities": ";".join(i["capabilities"]),
                "ring": "assess",
                "aliases": "",
                "annual_cost_per_seat": "",
                "description": i["description"],
                "homepage": i["homepage"] if i["homepage"].startswith("http") else "",
            }
            for i in items
        ]
    ).astype(str)
