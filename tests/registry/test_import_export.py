"""Imports of tools and adoptions (commands, API, page) and formula-safe exports."""

import io
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.http import HttpRequest
from django.urls import reverse

from coe.exports import neutralise
from registry.models import Adoption, Capability, DuplicateFinding, Tool
from tests.factories import PASSWORD

TOOLS_CSV = """name,vendor,capabilities,ring,aliases,annual_cost_per_seat,description,homepage
GitLab,GitLab Inc.,Source control;CI/CD,adopt,GitLab CI;GitLab EE,348,DevSecOps,https://about.gitlab.com
Jenkins,Jenkins project,CI/CD,hold,Hudson,,Automation server,https://www.jenkins.io
Rundeck,PagerDuty,Runbook automation,assess,,120,,
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_import_registry_creates_tools_aliases_and_imported_capabilities(db, tmp_path, capsys):
    call_command("import_registry", write(tmp_path, "tools.csv", TOOLS_CSV))
    out = capsys.readouterr().out
    assert "3 created, 0 updated" in out and "Runbook automation" in out
    gitlab = Tool.objects.get(name="GitLab")
    assert gitlab.ring == "adopt" and gitlab.annual_cost_per_seat == Decimal("348")
    assert sorted(a.name for a in gitlab.aliases.all()) == ["GitLab CI", "GitLab EE"]
    assert {c.slug for c in gitlab.capabilities.all()} == {"source-control", "ci-cd"}
    assert Capability.objects.get(name="Runbook automation").parent.name == "Imported"
    assert gitlab.ring_changes.get().to_ring == "adopt"
    # Re-import updates, never duplicates.
    call_command(
        "import_registry", write(tmp_path, "again.csv", TOOLS_CSV.replace("hold", "retired"))
    )
    assert Tool.objects.count() == 3
    assert Tool.objects.get(name="Jenkins").ring_changes.first().from_ring == "hold"


def test_a_bad_tools_file_is_rejected_whole_with_one_line_per_bad_row(db, tmp_path, capsys):
    bad = TOOLS_CSV + "SonarQube,SonarSource,Code quality,sometimes,,abc,,ftp://x\n,Acme,,,,,,\n"
    with pytest.raises(CommandError):
        call_command("import_registry", write(tmp_path, "bad.csv", bad))
    err = capsys.readouterr().err.splitlines()
    assert "row 5: ring: 'sometimes' is not one of adopt, trial, assess, hold, retired" in err
    assert "row 5: annual_cost_per_seat: 'abc' is not a number" in err
    assert "row 5: homepage: 'ftp://x' is not an http(s) URL" in err
    assert "row 6: name: required" in err
    assert Tool.objects.count() == 0


def test_a_file_without_required_columns_is_rejected(db, tmp_path, capsys):
    with pytest.raises(CommandError):
        call_command("import_adoptions", write(tmp_path, "x.csv", "tool,seats\nJira,3\n"))
    assert "row 1: factory: missing column" in capsys.readouterr().err


@pytest.fixture
def registry(db, tmp_path):
    call_command("import_registry", write(tmp_path, "tools.csv", TOOLS_CSV))


def test_import_adoptions_resolves_names_and_reports_unresolved_ones(
    registry, world, tmp_path, capsys
):
    csv = (
        "factory,tool,vendor,capability,seats,annual_cost\n"
        "alpha-plant,jenkins-lts,,CI/CD,25,18000\n"
        "alpha-plant,GitLab CI (self-managed),,,10,\n"
        "beta-app,Gitlab,,,5,1740\n"
        "beta-app,TurbineWatch,,,2,500\n"
    )
    call_command("import_adoptions", write(tmp_path, "a.csv", csv))
    out = capsys.readouterr().out
    assert "4 created" in out
    assert "row 5: tool: 'TurbineWatch' is not in the registry" in out
    by_name = {a.declared_name: a for a in Adoption.objects.select_related("tool")}
    assert by_name["jenkins-lts"].tool.name == "Jenkins"
    assert by_name["GitLab CI (self-managed)"].tool.name == "GitLab"
    assert by_name["TurbineWatch"].tool is None and by_name["TurbineWatch"].source == "import"
    assert by_name["jenkins-lts"].annual_cost == Decimal("18000")


def test_a_bad_adoptions_file_writes_nothing(registry, world, tmp_path, capsys):
    csv = (
        "factory,tool,vendor,capability,seats,annual_cost\n"
        "alpha-plant,Jenkins,,,25,18000\n"
        "nowhere,Jenkins,,,1,1\n"
        "alpha-plant,,,,-1,-5\n"
        "alpha-plant,jenkins lts,,,2.5,\n"
    )
    with pytest.raises(CommandError):
        call_command("import_adoptions", write(tmp_path, "a.csv", csv))
    err = capsys.readouterr().err.splitlines()
    assert "row 3: factory: unknown factory 'nowhere'" in err
    assert "row 4: tool: required" in err
    assert "row 4: seats: '-1' is not a whole number ≥ 0" in err
    assert "row 4: annual_cost: must not be negative" in err
    assert "row 5: tool: 'jenkins lts' repeats row 2 for this factory" in err
    assert Adoption.objects.count() == 0


def test_xlsx_upload_through_the_api_and_detection_after_commit(
    registry, world, django_capture_on_commit_callbacks
):
    frame = pd.DataFrame(
        [
            {"factory": "alpha-plant", "tool": "Jenkins", "seats": 5, "annual_cost": 1000},
            {"factory": "beta-app", "tool": "GitLab", "seats": 5, "annual_cost": 1000},
        ]
    )
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    buffer.seek(0)
    buffer.name = "adoptions.xlsx"
    with django_capture_on_commit_callbacks(execute=True):
        response = world.client("staff").post(
            reverse("api:import-adoptions"), {"file": buffer}, format="multipart"
        )
    assert response.status_code == 200, response.content
    assert response.json()["created"] == 2
    assert DuplicateFinding.objects.filter(kind="fragmentation").exists()


def test_api_upload_rejects_a_bad_file_and_is_staff_only(registry, world):
    bad = io.BytesIO(b"factory,tool\nnowhere,Jenkins\n")
    bad.name = "a.csv"
    response = world.client("staff").post(
        reverse("api:import-adoptions"), {"file": bad}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == ["row 2: factory: unknown factory 'nowhere'"]
    bad.seek(0)
    response = world.client("owner_a").post(
        reverse("api:import-registry"), {"file": bad}, format="multipart"
    )
    assert response.status_code == 403


def test_page_upload_shows_the_errors(world, client, db):
    client.login(request=HttpRequest(), username="staff", password=PASSWORD)
    upload = io.BytesIO(b"name,ring\nX,never\n")
    upload.name = "tools.csv"
    response = client.post(reverse("registry-import"), {"kind": "registry", "file": upload})
    assert response.status_code == 200
    assert "row 2: ring: &#x27;never&#x27; is not one of" in response.content.decode()
    client.login(request=HttpRequest(), username="member_a", password=PASSWORD)
    assert client.get(reverse("registry-import")).status_code == 403


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("GitLab", "GitLab"),
        (12, 12),
    ],
)
def test_neutralise_prefixes_formula_cells(value, safe):
    assert neutralise(value) == safe


def test_exports_neutralise_formulas_in_csv_and_xlsx(registry, world, client):
    Tool.objects.filter(name="Rundeck").update(description="=cmd|' /C calc'!A0")
    client.login(request=HttpRequest(), username="member_a", password=PASSWORD)
    csv = client.get(reverse("registry-export", args=["tools", "csv"])).content.decode()
    assert "'=cmd|" in csv
    xlsx = client.get(reverse("registry-export", args=["tools", "xlsx"]))
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    values = [c.value for row in sheet.iter_rows() for c in row]
    assert "'=cmd|' /C calc'!A0" in values
    assert not any(isinstance(v, str) and v.startswith("=") for v in values)
    for what in ("adoptions", "findings"):
        assert client.get(reverse("registry-export", args=[what, "csv"])).status_code == 200


def test_business_owners_upload_adoptions_of_their_own_factories_only(registry, world):
    def upload(persona, text):
        f = io.BytesIO(text.encode())
        f.name = "a.csv"
        return world.client(persona).post(
            reverse("api:import-adoptions"), {"file": f}, format="multipart"
        )

    assert upload("owner_a", "factory,tool\nalpha-plant,Jenkins\n").status_code == 200
    rejected = upload("owner_a", "factory,tool\nbeta-app,Jenkins\n")
    assert rejected.status_code == 400
    assert rejected.json()["errors"] == ["row 2: factory: unknown factory 'beta-app'"]
    assert upload("member_a", "factory,tool\nalpha-plant,Jenkins\n").status_code == 403
    assert Adoption.objects.filter(factory__slug="alpha-plant").count() == 1
