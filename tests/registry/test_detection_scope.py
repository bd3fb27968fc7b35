"""Detection that scales and agrees: incremental runs, unresolved names in overlaps, one
rule for the suggested standard, the advisory lock."""

from decimal import Decimal

import pandas as pd
import pytest
from django.db import connection

from registry.detection import duplicates_detect
from registry.duplicates import AdoptionRec, ToolRec, detect
from registry.importers import import_adoptions
from registry.models import DuplicateFinding
from tests.registry.builders import (
    adoption,
    capability,
    detection_in_progress,
    needs_postgresql,
    tool,
)


def findings_state():
    return {
        f.key: (f.status, f.annual_cost_at_stake, f.suggested_standard_id,
                sorted(t.pk for t in f.tools.all()))
        for f in DuplicateFinding.objects.prefetch_related("tools")
    }  # fmt: skip


def test_an_adoption_import_redetects_only_its_factory_and_agrees_with_a_full_run(
    world, django_capture_on_commit_callbacks
):
    ci, obs = capability("ci-cd"), capability("observability")
    gitlab = tool("GitLab", caps=[ci], ring="adopt")
    jenkins = tool("Jenkins", caps=[ci], ring="hold")
    tool("Grafana", caps=[obs], ring="adopt")
    tool("Datadog", caps=[obs], ring="trial")
    adoption(world.factory_a, gitlab, cost="100")
    adoption(world.factory_b, jenkins, cost="900")
    duplicates_detect()
    # A finding outside the import's reach must not be touched by the scoped run.
    untouched = DuplicateFinding.objects.create(key="overlap:x", kind="overlap",
                                                scope=world.factory_a, capability=obs)  # fmt: skip
    frame = pd.DataFrame(
        [{"factory": "beta-app", "tool": "GitLab", "annual_cost": "300"},
         {"factory": "beta-app", "tool": "Datadog", "annual_cost": "50"}]
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        import_adoptions(frame)
    scoped = findings_state()
    assert f"overlap:{world.factory_b.pk}:{ci.pk}" in scoped
    untouched.refresh_from_db()
    assert untouched.status == "open"  # beta-app's import did not reach alpha's findings
    untouched.delete()
    scoped.pop("overlap:x")
    duplicates_detect()
    assert findings_state() == scoped


def test_scoped_detection_resolves_what_disappeared_in_its_scope_only(world):
    ci = capability("ci-cd")
    gitlab, jenkins = tool("GitLab", caps=[ci], ring="adopt"), tool("Jenkins", caps=[ci])
    adoption(world.factory_a, gitlab, cost="100")
    gone = adoption(world.factory_a, jenkins, cost="900")
    adoption(world.factory_b, jenkins, cost="900")
    duplicates_detect()
    overlap = DuplicateFinding.objects.get(kind="overlap")
    gone.delete()
    summary = duplicates_detect(factories={world.factory_b.pk})
    overlap.refresh_from_db()
    assert overlap.status == "open" and summary.resolved == 0  # alpha was not in scope
    duplicates_detect(factories={world.factory_a.pk})
    overlap.refresh_from_db()
    assert overlap.status == "resolved"


def test_an_unresolved_name_with_a_declared_capability_counts_in_an_overlap(world):
    ci = capability("ci-cd", name="CI/CD")
    gitlab = tool("GitLab", caps=[ci], ring="adopt")
    adoption(world.factory_a, gitlab, cost="100")
    adoption(world.factory_a, None, name="HomeGrown Builder", cost="700",
             declared_capability="CI/CD")  # fmt: skip
    adoption(world.factory_a, None, name="Mystery", cost="50")  # no capability: left out
    duplicates_detect()
    finding = DuplicateFinding.objects.get(kind="overlap")
    assert finding.detail["unresolved"] == ["homegrown builder"]
    assert finding.suggested_standard == gitlab
    assert finding.annual_cost_at_stake == Decimal("700.00")
    assert not DuplicateFinding.objects.filter(kind="fragmentation").exists()


def test_overlap_and_fragmentation_suggest_the_same_standard_the_factory_pays_for():
    """The Dealer Portal case: GitLab (adopt) is paid for as source control; the factory
    runs Jenkins, GitHub Actions (trial) and Bamboo for CI/CD."""
    scm, ci = 1, 2
    tools = [
        ToolRec(10, "gitlab", ring="adopt"),
        ToolRec(11, "jenkins", ring="hold"),
        ToolRec(12, "github actions", ring="trial"),
        ToolRec(13, "bamboo", ring="hold"),
    ]
    adoptions = [
        AdoptionRec(1, 100, 10, Decimal("8700"), (scm,)),  # dealer portal: GitLab for SCM
        AdoptionRec(2, 100, 11, Decimal("18000"), (ci,)),
        AdoptionRec(3, 100, 12, Decimal("6250"), (ci,)),
        AdoptionRec(4, 100, 13, Decimal("9000"), (ci,)),
        AdoptionRec(5, 101, 10, Decimal("20000"), (scm, ci)),
        AdoptionRec(6, 102, 10, Decimal("10000"), (scm, ci)),
    ]
    found = {f.key: f for f in detect(tools, adoptions, factory_kinds={100: "software"})}
    assert found[f"overlap:100:{ci}"].standard_id == 10
    assert found[f"fragmentation:{ci}"].standard_id == 10


def test_a_ring_override_for_the_factory_kind_steers_the_overlap_standard():
    tools = [
        ToolRec(1, "a", ring="adopt", ring_overrides=(("manufacturing", "hold"),)),
        ToolRec(2, "b", ring="trial", ring_overrides=(("manufacturing", "adopt"),)),
    ]
    adoptions = [AdoptionRec(1, 100, 1, Decimal("5"), (7,)),
                 AdoptionRec(2, 100, 2, Decimal("5"), (7,))]  # fmt: skip
    plant = detect(tools, adoptions, factory_kinds={100: "manufacturing"})
    office = detect(tools, adoptions, factory_kinds={100: "software"})
    assert [f.standard_id for f in plant if f.kind == "overlap"] == [2]
    assert [f.standard_id for f in office if f.kind == "overlap"] == [1]


@needs_postgresql
def test_detection_holds_a_postgresql_advisory_lock(world):
    with detection_in_progress() as release:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '500ms'")
            with pytest.raises(Exception, match="lock timeout"):
                duplicates_detect()
            cursor.execute("SET lock_timeout = 0")
        release()
        assert duplicates_detect().findings == 0


def test_a_factory_that_stops_using_a_capability_leaves_its_fragmentation(world):
    ci = capability("ci-cd")
    gitlab = tool("GitLab", caps=[ci], ring="adopt")
    jenkins = tool("Jenkins", caps=[ci], ring="hold")
    adoption(world.factory_a, gitlab, cost="100")
    gone = adoption(world.factory_b, jenkins, cost="900")
    duplicates_detect()
    fragmentation = DuplicateFinding.objects.get(kind="fragmentation")
    assert fragmentation.status == "open"
    gone.delete()  # beta-app no longer uses anything for CI/CD
    summary = duplicates_detect(factories={world.factory_b.pk})
    fragmentation.refresh_from_db()
    assert fragmentation.status == "resolved" and summary.resolved == 1


def test_adoption_changes_through_the_api_redetect_that_factory(
    world, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    ci = capability("ci-cd", name="CI/CD")
    tool("GitLab", caps=[ci], ring="adopt")
    tool("Jenkins", caps=[ci], ring="hold")
    client = world.client("staff")
    url = reverse("api:adoption-list")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"factory": "alpha-plant", "declared_name": "GitLab"})
    with django_capture_on_commit_callbacks(execute=True):
        jenkins = client.post(url, {"factory": "alpha-plant", "declared_name": "Jenkins",
                                    "annual_cost": "900"}).json()  # fmt: skip
    overlap = DuplicateFinding.objects.get(kind="overlap", scope=world.factory_a)
    assert overlap.status == "open" and overlap.annual_cost_at_stake == Decimal("900.00")
    with django_capture_on_commit_callbacks(execute=True):
        client.patch(reverse("api:adoption-detail", args=[jenkins["id"]]), {"annual_cost": "400"})
    overlap.refresh_from_db()
    assert overlap.annual_cost_at_stake == Decimal("400.00")
    with django_capture_on_commit_callbacks(execute=True):
        client.delete(reverse("api:adoption-detail", args=[jenkins["id"]]))
    overlap.refresh_from_db()
    assert overlap.status == "resolved"


def test_an_import_moving_another_factorys_standard_redetects_that_overlap_alone(world):
    ci, obs = capability("ci-cd"), capability("observability")
    gitlab, jenkins = tool("GitLab", caps=[ci]), tool("Jenkins", caps=[ci])
    grafana, datadog = tool("Grafana", caps=[obs]), tool("Datadog", caps=[obs])
    for used in (gitlab, jenkins, grafana, datadog):  # beta-app overlaps in both
        adoption(world.factory_b, used, cost="100")
    duplicates_detect()
    ci_overlap = DuplicateFinding.objects.get(key=f"overlap:{world.factory_b.pk}:{ci.pk}")
    obs_overlap = DuplicateFinding.objects.get(key=f"overlap:{world.factory_b.pk}:{obs.pk}")
    assert ci_overlap.suggested_standard == gitlab  # a tie: the lower id
    # alpha-plant takes up Jenkins: more factories use it, beta-app's CI/CD standard moves.
    adoption(world.factory_a, jenkins, cost="50")
    duplicates_detect(factories={world.factory_a.pk})
    ci_overlap.refresh_from_db()
    assert ci_overlap.suggested_standard == jenkins
    assert ci_overlap.detail["adoptions_at_stake"] == list(
        world.factory_b.adoptions.filter(tool=gitlab).values_list("pk", flat=True)
    )
    # beta-app's other overlap was not part of alpha-plant's run.
    seen = obs_overlap.last_detected
    obs_overlap.refresh_from_db()
    assert obs_overlap.last_detected == seen
    scoped = findings_state()
    summary = duplicates_detect()
    assert (summary.created, summary.reopened, summary.resolved) == (0, 0, 0)
    assert findings_state() == scoped


def test_a_scoped_run_that_moves_a_fragmentation_standard_restakes_every_factory(world):
    """One factory's new adoption ties two tools, and the lower id now wins: the stored
    fragmentation finding is updated by difference (not re-read in full), and every other
    factory's adoptions of the two tools change their stake rows as a full run's would."""
    import registry.detection as detection
    from registry.models import FindingStake

    ci = capability("ci-move")
    first = tool("Move First", caps=[ci], ring="trial")
    second = tool("Move Second", caps=[ci], ring="trial")  # a higher id: loses a tie
    plants = [
        type(world.factory_a).objects.create(
            slug=f"move-{i}", name=f"Move {i}", kind="software", business_unit="X"
        )
        for i in range(3)
    ]
    adoption(world.factory_a, first, cost="100")
    adoption(world.factory_b, second, cost="200")
    adoption(plants[0], second, cost="300")
    duplicates_detect()
    finding = DuplicateFinding.objects.get(kind="fragmentation", capability=ci)
    assert finding.suggested_standard_id == second.pk  # two factories to one
    adoption(plants[1], first, cost="50")  # two each: the lower id wins
    recomputed = []
    real = detection.load_usage

    def spy(loaded, capabilities):
        recomputed.extend(capabilities)
        return real(loaded, capabilities)

    detection.load_usage = spy
    try:
        duplicates_detect(factories={plants[1].pk})
    finally:
        detection.load_usage = real
    assert ci.pk not in recomputed  # updated by difference

    def rows():
        return set(
            FindingStake.objects.filter(finding=finding).values_list(
                "adoption_id", "factory_id", "at_stake", "baseline_cost"
            )
        )

    finding.refresh_from_db()
    assert finding.suggested_standard_id == first.pk
    assert finding.annual_cost_at_stake == Decimal("500.00")  # the second tool's two
    scoped = rows()
    assert {(a, at) for a, _f, at, _c in scoped if at} == {
        (a.pk, True) for a in second.adoptions.all()
    }
    duplicates_detect()  # a full run leaves the same rows
    assert rows() == scoped
