"""Real data: the CNCF landscape imported as a registry, detection on adoptions from it."""

import random

import pandas as pd
import pytest

from registry.detection import duplicates_detect
from registry.importers import import_adoptions, import_registry
from registry.landscape import landscape_frame, landscape_items, landscape_path
from registry.models import Adoption, Capability, DuplicateFinding, Tool
from tests.factories import FactoryFactory


@pytest.fixture(scope="module")
def items():
    path = landscape_path()
    if not path.exists():
        pytest.skip(f"CNCF landscape not found at {path} (../shared/data is absent)")
    return landscape_items(path)


def test_landscape_imports_as_a_registry_and_detection_finds_fragmentation(db, items):
    summary = import_registry(landscape_frame(items), detect=False)
    assert summary.created == len(items) > 2000
    # A subcategory the taxonomy has is reused; the others are created under "Imported".
    assert Capability.objects.get(name="Observability").parent.name == "Operations"
    assert Capability.objects.get(name="Service Mesh").parent.name == "Imported"
    # second_path gives a second capability
    multi = [i for i in items if len(i["capabilities"]) > 1]
    tool = Tool.objects.get(name=multi[0]["name"])
    assert tool.capabilities.count() == len(multi[0]["capabilities"])

    rng = random.Random(7)
    by_cap: dict[str, list[str]] = {}
    for item in items:
        by_cap.setdefault(item["capabilities"][0], []).append(item["name"])
    slugs = [FactoryFactory(slug=f"team-{i}").slug for i in range(12)]
    rows = []
    for slug in slugs:
        for cap in ("Observability", "Continuous Integration & Delivery", "Database"):
            for name in rng.sample(by_cap[cap][:4], 2 if slug == "team-0" else 1):
                variant = rng.choice([name, name.lower(), f"{name} server", f"{name}-lts"])
                rows.append({"factory": slug, "tool": variant, "vendor": "", "capability": "",
                             "seats": "10", "annual_cost": "1000"})  # fmt: skip
        rows.append({"factory": slug, "tool": "Our Homegrown Thing", "vendor": "",
                     "capability": "", "seats": "1", "annual_cost": "50"})  # fmt: skip
    result = import_adoptions(pd.DataFrame(rows), detect=False)
    assert len(result.unresolved) == len(slugs)  # the homegrown thing, nothing dropped
    assert Adoption.objects.count() == len(rows)
    assert Adoption.objects.filter(tool__isnull=False).count() == len(rows) - len(slugs)

    duplicates_detect()
    kinds = set(DuplicateFinding.objects.values_list("kind", flat=True))
    assert {"fragmentation", "overlap"} <= kinds
    frag = DuplicateFinding.objects.filter(kind="fragmentation", capability__name="Database")
    assert frag.get().annual_cost_at_stake > 0
    assert DuplicateFinding.objects.filter(kind="overlap", scope__slug="team-0").count() == 3
