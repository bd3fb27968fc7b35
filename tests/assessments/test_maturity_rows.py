"""Each factory's stored maturity follows its final audits, and the portfolio pages read
those rows: a fixed number of queries and a page of factories whatever the portfolio."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from assessments.maturity import rows_for
from assessments.models import FactoryDimensionScore, FactoryMaturity
from assessments.services import assessment_create, assessment_finalize, current_model
from coe import bulk
from coe.choices import Role
from coe.models import Factory, Membership
from coe.scoping import visible_factories
from tests.assessments.helpers import answer_all, reviewer

FIELDS = ["assessment_id", "model_key", "assessed_on", "stage", "index", "capped_by"]
FIELDS += ["next_step", "previous_stage", "previous_index", "previous_assessed_on", "next_due"]


def _stored(factory) -> tuple[dict, list]:
    row = FactoryMaturity.objects.get(factory=factory)
    scores = list(
        FactoryDimensionScore.objects.filter(factory=factory).values_list("key", "name", "score")
    )
    return {f: getattr(row, f) for f in FIELDS}, scores


def _recomputed(factory) -> tuple[dict, list]:
    maturities, scores = rows_for([factory])
    return (
        {f: getattr(maturities[0], f) for f in FIELDS},
        [(s.key, s.name, s.score) for s in scores],
    )


def _finalise(factory, rating: int, day: str):
    import datetime as dt

    assessment = assessment_create(factory=factory)
    assessment.assessed_on = dt.date.fromisoformat(day)
    assessment.save()
    answer_all(assessment, rating_for=lambda d, c: rating)
    assessment_finalize(assessment=assessment, user=reviewer())
    assessment.refresh_from_db()
    return assessment


def test_finalising_an_audit_stores_the_factory_maturity_equal_to_recomputing_it(
    world, django_capture_on_commit_callbacks
):
    factory = world.factory_a
    assert not FactoryMaturity.objects.filter(factory=factory).exists()
    first = _finalise(factory, 2, "2025-05-01")
    stored, scores = _stored(factory)
    assert stored["assessment_id"] == first.pk and stored["stage"] == first.stage
    assert stored["previous_stage"] is None
    assert (stored, scores) == _recomputed(factory)
    assert {s[0] for s in scores} == {d["key"] for d in first.result["dimensions"]}

    second = _finalise(factory, 4, "2026-05-01")
    stored, scores = _stored(factory)
    assert stored["assessment_id"] == second.pk and stored["stage"] == second.stage
    assert stored["previous_stage"] == first.stage
    assert stored["previous_index"] == first.index
    assert (stored, scores) == _recomputed(factory)
    # The factory's cadence moves the next audit's due date.
    factory.audit_cadence_months = 6
    factory.save()
    assert _stored(factory)[0]["next_due"].isoformat() == "2026-11-01"
    # The latest final audit deleted: the maturity falls back to the one before it.
    with django_capture_on_commit_callbacks(execute=True):
        second.delete()
    stored, scores = _stored(factory)
    assert stored["assessment_id"] == first.pk and stored["previous_stage"] is None
    assert (stored, scores) == _recomputed(factory)
    # The factory deleted: its rows go with it.
    with django_capture_on_commit_callbacks(execute=True):
        factory.delete()
    assert not FactoryMaturity.objects.filter(factory_id=first.factory_id).exists()


def _grow(count: int, owner, template) -> None:
    """``count`` factories owned by ``owner``, each with a copy of a real final audit."""
    from assessments.maturity import refresh
    from assessments.models import Assessment

    start = Factory.objects.count()
    factories = [
        Factory(slug=f"p-{n}", name=f"Plant {n:04d}", business_unit=f"Unit {n % 4}")
        for n in range(start, start + count)
    ]
    bulk.insert(Factory, factories)
    bulk.insert(
        Membership, [Membership(user=owner, factory=f, role=Role.BUSINESS_OWNER) for f in factories]
    )
    copies = []
    for f in factories:
        copy = Assessment(
            factory=f, model=template.model, status=template.status, result=template.result,
            index=template.index, stage=template.stage, assessed_on=template.assessed_on,
            finalized_at=template.finalized_at,
        )  # fmt: skip
        copies.append(copy)
    bulk.insert(Assessment, copies)
    refresh([f.pk for f in factories])


def _measure(client, path: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, path
    return len(queries), len(response.content)


@pytest.mark.parametrize("persona", ["staff", "owner_a"])
def test_home_portfolio_and_roi_take_fixed_queries_and_a_page_of_factories(world, persona):
    template = _finalise(world.factory_a, 3, "2026-01-15")
    assert current_model().key == template.model.key
    client = world.client(persona)
    client.force_login(world.users[persona])
    paths = ["/", "/portfolio/", "/api/portfolio/roi/"]
    _grow(60, world.users["owner_a"], template)  # more than a page (50)
    small = {p: _measure(client, p) for p in paths}
    _grow(240, world.users["owner_a"], template)
    large = {p: _measure(client, p) for p in paths}
    for path in paths:
        assert large[path][0] == small[path][0], path  # queries
        assert large[path][1] <= small[path][1] * 1.1, path  # bytes: a page, not the portfolio
    page = client.get("/portfolio/?page=2").content.decode()
    assert "Page 2 of" in page
    body = client.get("/api/portfolio/roi/").json()
    assert body["factories"] == visible_factories(world.users[persona]).count() > 300
    if persona == "staff":
        cockpit = client.get("/").content.decode()
        assessed = FactoryMaturity.objects.count()
        assert f"{assessed} with a final audit" in cockpit
        assert assessed == 301
