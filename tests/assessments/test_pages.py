"""The assessment pages per persona, with pinned query counts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from assessments.models import Assessment
from assessments.services import assessment_create, assessment_finalize
from tests.assessments.helpers import answer_all, reviewer
from tests.factories import FactoryFactory


def signed_in(client, world, persona):
    client.force_login(world.users[persona])
    return client


def final_audit(factory, rating_for=lambda d, c: 2 if d == "data_integration" else 5):
    assessment = assessment_create(factory=factory)
    answer_all(assessment, rating_for)
    assessment_finalize(assessment=assessment, user=reviewer())
    return assessment


def test_navigation_has_assessments_and_the_list_shows_overdue_audits(client, world):
    page = signed_in(client, world, "staff").get(reverse("assessment-list")).content.decode()
    assert 'href="/assessments/" class="active"' in page
    assert "Audits due (2)" in page and "Open audit" in page


def test_staff_open_an_audit_from_the_list(client, world):
    response = signed_in(client, world, "staff").post(
        reverse("assessment-list"), {"factory": "beta-app"}
    )
    assessment = Assessment.objects.get(factory=world.factory_b)
    assert response.status_code == 302 and response["Location"] == assessment.get_absolute_url()
    assert assessment.status == "draft"


def test_members_cannot_open_audits_and_see_only_their_factory(client, world):
    final_audit(world.factory_a)
    b = final_audit(world.factory_b)
    signed_in(client, world, "member_a")
    assert client.post(reverse("assessment-list"), {"factory": "alpha-plant"}).status_code == 403
    page = client.get(reverse("assessment-list")).content.decode()
    assert "Alpha Plant" in page and "Beta App" not in page
    assert client.get(reverse("assessment-detail", args=[b.pk])).status_code == 404
    assert client.get(reverse("assessment-report", args=[b.pk])).status_code == 404
    assert client.get(reverse("scorecard", args=["beta-app"])).status_code == 404


def test_workspace_saves_answers_shows_progress_and_needs_a_comment_to_override(client, world):
    assessment = assessment_create(factory=world.factory_a)
    assessment.signal_readings.filter(criterion="platform.standard_tools").update(
        measured=True, value=0.9, suggested_rating=5, source="registry"
    )
    signed_in(client, world, "staff")
    url = reverse("assessment-detail", args=[assessment.pk])
    page = client.get(url).content.decode()
    assert "0 / 28" in page and "Suggested: <strong" in page and "not measured" in page
    assert "1 Ad hoc" in page and "5 Optimized" in page
    response = client.post(
        url,
        {
            "rating-strategy.vision": "3",
            "evidence-strategy.vision": "Roadmap deck",
            "rating-platform.standard_tools": "2",
            "action": "save",
        },
    )
    assert response.status_code == 200 and "needs a comment" in response.content.decode()
    assert assessment.answers.count() == 0
    response = client.post(
        url,
        {
            "rating-strategy.vision": "3",
            "evidence-strategy.vision": "Roadmap deck",
            "rating-platform.standard_tools": "2",
            "comment-platform.standard_tools": "Pending",
            "rating-strategy.goals": "na",
            "action": "save",
        },
    )
    assert response.status_code == 302
    assert "3 / 28" in client.get(url).content.decode()
    assert assessment.answers.get(criterion="strategy.goals").rating is None


def test_owner_sees_the_scorecard_radar_history_and_roadmap(
    client, world, django_assert_max_num_queries
):
    first = final_audit(world.factory_a, lambda d, c: 2)
    Assessment.objects.filter(pk=first.pk).update(assessed_on="2025-01-10")
    final_audit(world.factory_a)
    signed_in(client, world, "owner_a")
    client.get(reverse("scorecard", args=["alpha-plant"]))
    with django_assert_max_num_queries(13):
        response = client.get(reverse("scorecard", args=["alpha-plant"]))
    page = response.content.decode()
    assert 'id="chart-radar"' in page and 'id="chart-stage-history"' in page
    assert "Portfolio median" in page and 'id="roadmap"' in page
    assert "capped at Established by Data integration at 2.0" in page
    assert "caps the stage" in page


def test_report_is_printable_and_only_for_final_assessments(client, world):
    final = final_audit(world.factory_a)
    draft = assessment_create(factory=world.factory_a)
    signed_in(client, world, "member_a")
    assert client.get(reverse("assessment-report", args=[draft.pk])).status_code == 404
    page = client.get(reverse("assessment-report", args=[final.pk])).content.decode()
    assert "window.print()" in page and "Roadmap to the next stage" in page
    assert "Established" in page


def test_factory_page_has_the_maturity_panel(client, world):
    final_audit(world.factory_a)
    page = (
        signed_in(client, world, "member_a")
        .get(reverse("factory-detail", args=["alpha-plant"]))
        .content.decode()
    )
    assert 'id="panel-maturity"' in page and "Established" in page
    assert reverse("scorecard", args=["alpha-plant"]) in page


def test_portfolio_shows_stages_and_heatmaps_in_constant_queries(
    client, world, django_assert_max_num_queries
):
    for i in range(12):
        factory = FactoryFactory(slug=f"plant-{i}", business_unit=f"Unit {i % 3}")
        final_audit(factory, lambda d, c, i=i: 1 + (i % 5))
    signed_in(client, world, "staff")
    client.get(reverse("portfolio"))
    # + the unread notifications count, the inbox count in the navigation
    with django_assert_max_num_queries(18):
        response = client.get(reverse("portfolio"))
    page = response.content.decode()
    assert 'id="chart-stage-distribution"' in page
    assert 'id="chart-heatmap-factories"' in page and 'id="chart-heatmap-units"' in page
    assert "Unit 2" in page and "Optimized" in page


@pytest.mark.parametrize("url_name", ["assessment-list"])
def test_lists_take_a_constant_number_of_queries(
    client, world, url_name, django_assert_max_num_queries
):
    for i in range(15):
        factory = FactoryFactory(slug=f"f-{i}")
        final_audit(factory)
        assessment_create(factory=factory)
    signed_in(client, world, "staff")
    client.get(reverse(url_name))
    # +1 since the maturity model versions on the page are read once each, not with
    # their whole definition on every audit row.
    with django_assert_max_num_queries(15):
        response = client.get(reverse(url_name))
    assert response.status_code == 200 and response.content.count(b"stage stage-3") >= 15


def test_workspace_takes_a_constant_number_of_queries(client, world, django_assert_max_num_queries):
    assessment = assessment_create(factory=world.factory_a)
    answer_all(assessment)
    signed_in(client, world, "staff")
    url = reverse("assessment-detail", args=[assessment.pk])
    client.get(url)
    with django_assert_max_num_queries(19):
        assert client.get(url).status_code == 200


def test_stage_history_marks_a_change_of_model_version():
    from assessments.charts import stage_history

    html = stage_history(
        [
            {
                "date": "2025-01-01",
                "stage": 2,
                "index": 2.1,
                "stage_name": "Developing",
                "model_version": 1,
            },
            {
                "date": "2026-01-01",
                "stage": 2,
                "index": 2.9,
                "stage_name": "Developing",
                "model_version": 2,
            },
        ]
    )
    assert "model v2" in html and "Developing" in html
    # The stage is plotted (both on the "Developing" line), the index is on hover.
    assert '"y":[2,2]' in html and "index %{customdata[0]:.2f}" in html


def test_evidence_files_download_only_inside_the_factory(client, world, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from assessments.answers import answers_save, evidence_file_add

    settings.MEDIA_ROOT = str(tmp_path)
    assessment = assessment_create(factory=world.factory_a)
    answers_save(assessment=assessment, rows=[{"criterion": "strategy.vision", "rating": 3}])
    stored = evidence_file_add(
        assessment=assessment,
        criterion="strategy.vision",
        upload=SimpleUploadedFile("kpis.csv", b"kpi,value\noee,0.7\n", content_type="text/csv"),
    )
    url = reverse("evidence-file", args=[stored.pk])
    assert signed_in(client, world, "member_b").get(url).status_code == 404
    response = signed_in(client, world, "member_a").get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"kpi,value\noee,0.7\n"


def test_opening_a_second_audit_of_a_factory_explains_why_not(client, world):
    signed_in(client, world, "staff")
    client.post(reverse("assessment-list"), {"factory": "beta-app"})
    response = client.post(reverse("assessment-list"), {"factory": "beta-app"}, follow=True)
    assert response.status_code == 200
    assert "already has an open audit" in response.content.decode()
    assert Assessment.objects.filter(factory=world.factory_b).count() == 1


def test_staff_open_a_correction_of_a_final_audit(client, world):
    final = final_audit(world.factory_a)
    signed_in(client, world, "staff")
    response = client.post(reverse("assessment-correct", args=[final.pk]))
    correction = Assessment.objects.get(corrects=final)
    assert response.status_code == 302 and response["Location"] == correction.get_absolute_url()
    signed_in(client, world, "owner_a")
    assert client.post(reverse("assessment-correct", args=[final.pk])).status_code == 403
