"""A detection run moves the finding figures (open findings, money at stake) of the
factories it touched by difference, in its own transaction, and they equal what a full
rebuild of the figures computes; a full rebuild waits for a running detection."""

from __future__ import annotations

from decimal import Decimal

import pytest
from celery.signals import task_prerun
from django.db import connection, transaction

from kpis.finding_figures import shift_finding_figures
from kpis.models import FactoryFigures
from kpis.rollups import rebuild
from registry.detection import duplicates_detect
from registry.models import FACTORY_PREVIEW, Adoption, DuplicateFinding
from tests.registry.builders import (
    adoption,
    capability,
    detection_in_progress,
    needs_postgresql,
    tool,
)


def figures() -> dict:
    return {
        f.factory_id: (f.open_findings, f.at_stake)
        for f in FactoryFigures.objects.order_by("factory_id")
    }


def rebuilt() -> dict:
    """The figures a full rebuild computes (written, then read)."""
    rebuild(None, [])
    return figures()


def test_detection_moves_the_finding_figures_as_a_full_rebuild_would(world):
    cap, other = capability("ff-a", name="FF A"), capability("ff-b", name="FF B")
    one, two, three = (tool(f"Figure Tool {n}", caps=[cap, other]) for n in "xyz")
    third = type(world.factory_a).objects.create(
        slug="ff-3", name="FF 3", kind="software", business_unit="X"
    )
    adoption(world.factory_a, one, cost="100")
    adoption(world.factory_a, two, cost="250")  # an overlap in factory a
    adoption(world.factory_b, two, cost="40")
    adoption(third, three, cost="7.5")
    rebuild(None, [])
    runs = []

    def count(sender=None, task=None, args=None, **kwargs):
        runs.append(task.name)

    task_prerun.connect(count)
    try:
        duplicates_detect()
    finally:
        task_prerun.disconnect(count)
    assert not [name for name in runs if name.startswith("kpis.")]  # no refresh task
    after_detection = figures()
    assert after_detection[world.factory_a.pk][0] >= 2  # overlap(s) and fragmentation
    # Factories that new findings list (not their scope) moved too.
    assert after_detection[third.pk][0] == 2 and after_detection[third.pk][1] > 0
    assert rebuilt() == after_detection
    # A scoped run after a cost change moves every factory the fragmentation lists.
    Adoption.objects.filter(factory=third).update(annual_cost=Decimal("1007.5"))
    duplicates_detect(factories={third.pk})
    moved = figures()
    assert moved != after_detection and rebuilt() == moved
    # A finding that lists a factory and is scoped to it counts once; resolved ones none.
    adoption(third, one, cost="3")  # third now runs an overlap of its own
    finding = DuplicateFinding.objects.filter(kind="overlap").first()
    finding.factories.add(finding.scope_id)
    rebuild(None, [])
    duplicates_detect(factories={third.pk})
    assert figures() == rebuilt()
    Adoption.objects.filter(factory=third).delete()
    duplicates_detect(factories={third.pk})
    assert figures()[third.pk] == (0, Decimal("0")) and figures() == rebuilt()


def test_a_rolled_back_detection_leaves_the_figures_as_they_were(world):
    cap = capability("ff-r", name="FF R")
    one, two = tool("Rollback One", caps=[cap]), tool("Rollback Two", caps=[cap])
    adoption(world.factory_a, one, cost="10")
    adoption(world.factory_b, two, cost="20")
    rebuild(None, [])
    before = figures()
    with transaction.atomic():
        duplicates_detect()
        assert figures() != before
        transaction.set_rollback(True)
    assert figures() == before


def test_factories_without_figures_are_built_in_full(world):
    cap = capability("ff-m", name="FF M")
    one, two = tool("Missing One", caps=[cap]), tool("Missing Two", caps=[cap])
    adoption(world.factory_a, one, cost="10")
    adoption(world.factory_b, two, cost="20")
    rebuild(None, [])
    FactoryFigures.objects.filter(factory=world.factory_b).delete()
    missing = shift_finding_figures(
        {world.factory_a.pk: (0, Decimal("0")), world.factory_b.pk: (1, Decimal("5"))}, {}
    )
    assert missing == [world.factory_b.pk]
    assert not FactoryFigures.objects.filter(factory=world.factory_b).exists()
    # A detection run builds them (their figures then equal a full rebuild's).
    duplicates_detect()
    assert FactoryFigures.objects.filter(factory=world.factory_b).exists()
    assert figures() == rebuilt()


@needs_postgresql
def test_a_full_build_of_figures_waits_for_a_running_detection(world):
    with detection_in_progress() as release:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '500ms'")
            with pytest.raises(Exception, match="lock timeout"):
                rebuild([world.factory_a.pk], [])
            cursor.execute("SET lock_timeout = 0")
        release()
        assert rebuild([world.factory_a.pk], [])["factories"] == 1


def test_a_finding_whose_factories_move_while_its_columns_stay_moves_their_figures(world):
    """A factory past the preview leaves a fragmentation finding and another joins it, on
    the standard's side: count, preview, cost and standard stay, only the links move."""
    cap = capability("ff-links", name="FF Links")
    standard = tool("Links Standard", caps=[cap], ring="adopt")
    other = tool("Links Other", caps=[cap], ring="hold")
    plants = [
        type(world.factory_a).objects.create(
            slug=f"links-{i}", name=f"Links {i}", kind="software", business_unit="X"
        )
        for i in range(FACTORY_PREVIEW + 2)
    ]
    adoption(world.factory_a, other, cost="70")
    leaving = [adoption(plant, standard, cost="10") for plant in plants[:-1]][-1]
    rebuild(None, [])
    duplicates_detect()
    before = DuplicateFinding.objects.get(kind="fragmentation", capability=cap)
    leaving.delete()
    gone, joining = plants[-2], plants[-1]
    adoption(joining, standard, cost="10")
    FactoryFigures.objects.filter(factory=joining).update(
        open_findings=0, at_stake=Decimal("0")
    )  # what the figures held before this run
    FactoryFigures.objects.filter(factory=gone).update(
        open_findings=1, at_stake=before.annual_cost_at_stake
    )
    duplicates_detect()
    after = DuplicateFinding.objects.get(pk=before.pk)
    assert (after.factory_count, after.annual_cost_at_stake, after.factory_preview) == (
        before.factory_count, before.annual_cost_at_stake, before.factory_preview,
    )  # fmt: skip
    assert figures()[gone.pk] == (0, Decimal("0"))
    assert figures()[joining.pk] == (1, after.annual_cost_at_stake)


@needs_postgresql
def test_a_writers_build_of_figures_does_not_wait_for_a_running_detection(world):
    """Inside a writer's transaction (which may hold rows the run needs) the build does not
    wait: it leaves the finding figures as they are and builds them again on commit."""
    cap = capability("ff-w", name="FF W")
    one, two = tool("Writer One", caps=[cap]), tool("Writer Two", caps=[cap])
    adoption(world.factory_a, one, cost="10")
    adoption(world.factory_a, two, cost="20")
    duplicates_detect()
    rebuild(None, [])
    truth = figures()[world.factory_a.pk]
    FactoryFigures.objects.filter(factory=world.factory_a).update(open_findings=99)
    with detection_in_progress() as release:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '500ms'")
            rebuild([world.factory_a.pk], [])  # returns: no lock timeout
            assert figures()[world.factory_a.pk][0] == 99  # left for after the commit
            release()
        assert figures()[world.factory_a.pk] == truth  # built again once committed
