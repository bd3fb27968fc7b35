"""The demo organisation's registry tells the story of DEMO.md."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.http import HttpRequest
from django.urls import reverse

from registry.models import Adoption, DuplicateFinding, Process, Tool
from registry.selectors import at_stake_total


@pytest.fixture
def demo(db):
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_demo_registry_has_duplicates_worth_acting_on_and_a_waiver(demo):
    assert Tool.objects.filter(name="SAP S/4HANA", ring="adopt").exists()
    assert Process.objects.count() == 5
    stuttgart = DuplicateFinding.objects.filter(kind="overlap", scope__slug="stuttgart-press")
    assert {f.capability.slug for f in stuttgart} == {"historian", "cmms-maintenance"}
    dealer = DuplicateFinding.objects.get(kind="overlap", scope__slug="dealer-portal")
    assert {t.name for t in dealer.tools.all()} == {"Jenkins", "GitHub Actions", "Bamboo"}
    assert DuplicateFinding.objects.filter(kind="fragmentation", capability__slug="issue-tracking")
    waived = DuplicateFinding.objects.get(status="waived")
    assert waived.waiver_reason and waived.waiver_approver.username == "coe.lead"
    # The live findings' adoptions, each counted once: a six-figure sum.
    assert at_stake_total(DuplicateFinding.objects.all()) >= Decimal("100000")


def test_demo_names_resolve_fuzzily_and_one_stays_unresolved(demo):
    opcenter = Adoption.objects.get(declared_name="Siemens Opcenter")
    assert opcenter.tool.name == "Opcenter MES" and opcenter.resolution_confidence < 1
    assert Adoption.objects.get(declared_name="jenkins-lts").tool.name == "Jenkins"
    assert list(
        Adoption.objects.filter(tool__isnull=True).values_list("declared_name", flat=True)
    ) == ["TurbineWatch (in-house)"]


def test_demo_is_idempotent(demo):
    counts = (Tool.objects.count(), Adoption.objects.count(), DuplicateFinding.objects.count())
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    after = (Tool.objects.count(), Adoption.objects.count(), DuplicateFinding.objects.count())
    assert after == counts
    assert DuplicateFinding.objects.filter(status="waived").count() == 1


def test_demo_pages_render_for_a_business_owner(demo, client):
    from django.conf import settings

    client.login(
        request=HttpRequest(), username="owner.automotive", password=settings.DEMO_PASSWORD
    )
    for name in ("tool-list", "tech-radar", "duplicate-list", "registry-unresolved"):
        assert client.get(reverse(name)).status_code == 200
    body = client.get(reverse("factory-detail", args=["stuttgart-press"])).content.decode()
    assert "Canary Historian" in body and "Overlap within a factory" in body
