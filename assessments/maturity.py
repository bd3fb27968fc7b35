"""Each factory's current maturity as stored rows (:class:`FactoryMaturity`,
:class:`FactoryDimensionScore`), so that the cockpit, "My factories" and the portfolio
count stages, average dimension scores by business unit and list audits due in SQL over
one row per factory, never by reading every final audit's result per request.

:func:`refresh` rewrites the rows of some factories from their final audits; it runs when
an audit is finalised (``services.assessment_finalize``), when a factory's audit cadence
changes, and from ``manage.py maturity_rebuild`` (the demo and rebuilds).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from assessments.choices import STAGE_NAMES
from assessments.models import Assessment, FactoryDimensionScore, FactoryMaturity
from coe import bulk
from coe.models import Factory


def next_step(assessment: Assessment) -> dict:
    """The capping dimension's name and the first roadmap step of a final audit, named."""
    result = assessment.result or {}
    overall = result.get("overall", {})
    dims = {d["key"]: d["name"] for d in result.get("dimensions", [])}
    step = None
    roadmap = result.get("roadmap") or []
    if roadmap:
        first = roadmap[0]
        names = {
            c["key"]: c["name"]
            for d in assessment.model.definition.get("dimensions", [])
            for c in d.get("criteria", [])
        }
        stage = overall.get("stage")
        step = {
            "criterion": names.get(first["criterion"], first["criterion"]),
            "dimension": dims.get(first["dimension"], first["dimension"]),
            "current": first["current"],
            "target": first["target"],
            "next_stage": STAGE_NAMES.get(stage + 1) if stage else None,
            "steps": len(roadmap),
        }
    return {"capped_by": dims.get(overall.get("capped_by")), "next_step": step}


def rows_for(factories: Iterable[Factory]) -> tuple[list, list]:
    """Unsaved maturity and dimension-score rows of ``factories`` from their final audits
    (what :func:`refresh` stores; also what a test compares the stored rows with)."""
    from assessments.selectors import add_months, latest_finals_by_factory, previous_finals

    factories = {f.pk: f for f in factories}
    latest = latest_finals_by_factory(Factory.objects.filter(pk__in=list(factories)))
    latest = {pk: a for pk, a in latest.items() if a.result and a.stage is not None}
    previous = previous_finals(list(latest.values()))
    now = timezone.now()
    maturities, scores = [], []
    for factory_id, audit in sorted(latest.items()):
        factory = factories[factory_id]
        before = previous.get(audit.pk)
        named = next_step(audit)
        maturities.append(
            FactoryMaturity(
                factory_id=factory_id,
                assessment_id=audit.pk,
                model_key=audit.result.get("model") or audit.model.key,
                assessed_on=audit.assessed_on,
                stage=audit.stage,
                index=audit.index,
                capped_by=named["capped_by"] or "",
                next_step=named["next_step"],
                previous_stage=before.stage if before is not None else None,
                previous_index=before.index if before is not None else None,
                previous_assessed_on=before.assessed_on if before is not None else None,
                next_due=add_months(audit.assessed_on, factory.audit_cadence_months)
                if audit.assessed_on
                else None,
                refreshed_at=now,
            )
        )
        for position, dim in enumerate(audit.result.get("dimensions", [])):
            scores.append(
                FactoryDimensionScore(
                    factory_id=factory_id,
                    key=dim["key"],
                    name=dim["name"],
                    position=position,
                    score=dim["score"],
                )
            )
    return maturities, scores


@transaction.atomic
def refresh(factory_ids: Iterable[int]) -> int:
    """Rewrite the maturity rows of ``factory_ids``; returns how many factories have one."""
    ids = sorted(set(factory_ids))
    total = 0
    for first in range(0, len(ids), 500):
        chunk = ids[first : first + 500]
        maturities, scores = rows_for(Factory.objects.filter(pk__in=chunk))
        FactoryDimensionScore.objects.filter(factory_id__in=chunk).delete()
        FactoryMaturity.objects.filter(factory_id__in=chunk).delete()
        bulk.insert(FactoryMaturity, maturities)
        bulk.insert(FactoryDimensionScore, scores)
        total += len(maturities)
    return total


def cadence_changed(sender, instance: Factory, created=False, **kwargs) -> None:
    """A factory saved with another audit cadence: its next audit's due date moves."""
    from assessments.selectors import add_months

    if created:
        return
    row = FactoryMaturity.objects.filter(factory_id=instance.pk).first()
    if row is None or row.assessed_on is None:
        return
    due = add_months(row.assessed_on, instance.audit_cadence_months)
    if due != row.next_due:
        FactoryMaturity.objects.filter(pk=row.pk).update(next_due=due)


def final_deleted(sender, instance: Assessment, origin=None, **kwargs) -> None:
    """A final audit deleted (the admin): the factory's maturity falls back to the final
    audit before it. Not when the delete cascades from the factory itself."""
    from django.db.models import QuerySet

    if instance.status != "final":
        return
    if isinstance(origin, Factory) or (isinstance(origin, QuerySet) and origin.model is Factory):
        return
    transaction.on_commit(lambda: refresh([instance.factory_id]))


def rebuild() -> int:
    """The maturity rows of every factory (``manage.py maturity_rebuild``)."""
    return refresh(Factory.objects.values_list("pk", flat=True))
