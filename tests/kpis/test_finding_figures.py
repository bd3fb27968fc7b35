"""A detection run refreshes only the finding figures of the factories it touched (one SQL
statement), and they equal what a full rebuild of the figures computes."""

from __future__ import annotations

from decimal import Decimal

from celery.signals import task_prerun

from kpis.finding_figures import refresh_finding_figures
from kpis.models import FactoryFigures
from kpis.rollups import rebuild
from registry.detection import duplicates_detect
from registry.models import DuplicateFinding
from tests.registry.builders import adoption, capability, tool


def figures() -> dict:
    return {
        f.factory_id: (f.open_findings, f.at_stake)
        for f in FactoryFigures.objects.order_by("factory_id")
    }


def test_detection_refreshes_the_finding_figures_as_a_full_rebuild_would(world):
    cap, other = capability("ff-a", name="FF A"), capability("ff-b", name="FF B")
    one, two, three = (tool(f"Figure Tool {n}", caps=[cap, other]) for n in "xyz")
    third = type(world.factory_a).objects.create(
        slug="ff-3", name="FF 3", kind="software", business_unit="X"
    )
    adoption(world.factory_a, one, cost="100")
    adoption(world.factory_a, two, cost="250")  # an overlap in factory a
    adoption(world.factory_b, two, cost="40")
    adoption(third, three, cost="7.5")
    runs = []

    def count(sender=None, task=None, args=None, **kwargs):
        runs.append(task.name)

    task_prerun.connect(count)
    try:
        duplicates_detect()
    finally:
        task_prerun.disconnect(count)
    assert "kpis.tasks.refresh_finding_figures" in runs
    assert "kpis.tasks.refresh_rollups" not in runs
    after_detection = figures()
    assert after_detection[world.factory_a.pk][0] >= 2  # overlap(s) and fragmentation
    # Factories that new findings list (not their scope) are refreshed too.
    assert after_detection[third.pk][0] == 2 and after_detection[third.pk][1] > 0
    rebuild(None, [])
    assert figures() == after_detection
    # A finding that lists a factory and is scoped to it counts once; resolved ones none.
    finding = DuplicateFinding.objects.filter(kind="overlap").first()
    finding.factories.add(finding.scope_id)
    DuplicateFinding.objects.filter(kind="fragmentation").update(status="resolved")
    assert refresh_finding_figures(list(after_detection)) == []
    refreshed = figures()
    rebuild(None, [])
    assert figures() == refreshed != after_detection


def test_factories_without_figures_are_reported_for_a_full_build(world):
    FactoryFigures.objects.filter(factory=world.factory_b).delete()
    assert refresh_finding_figures([world.factory_a.pk, world.factory_b.pk]) == [world.factory_b.pk]
    assert not FactoryFigures.objects.filter(factory=world.factory_b).exists()
    assert isinstance(FactoryFigures.objects.get(factory=world.factory_a).at_stake, Decimal)
