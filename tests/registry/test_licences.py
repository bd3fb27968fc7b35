"""Licence/SAM exports update the seats and annual cost of existing adoptions, all or nothing."""

from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
import pytest
from django.core.management import CommandError, call_command

from registry import services
from registry.models import Adoption
from tests.registry.builders import adoption, tool


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.fixture
def landscape(world):
    gitlab = tool("GitLab", vendor="GitLab Inc.")
    services.tool_alias_add(tool=gitlab, name="GitLab EE")
    jira = tool("Jira", vendor="Atlassian")
    pi = tool("AVEVA PI", vendor="AVEVA")
    return {
        "gitlab": adoption(world.factory_b, gitlab, name="gitlab.com", seats=10, cost=3480),
        "jira": adoption(world.factory_b, jira, seats=5, cost=600),
        "pi": adoption(world.factory_a, pi, name="PI historian", seats=2, cost=20000),
        "homegrown": adoption(world.factory_a, None, name="Shift Book", seats=1, cost=100),
    }


def test_a_licence_file_updates_seats_and_costs_of_the_matching_adoptions(
    landscape, tmp_path, capsys
):
    csv = (
        "factory,tool,seats,annual_cost,currency\n"
        "beta-app,GitLab EE,25,8700,EUR\n"  # alias → the adoption declared as gitlab.com
        "beta-app,Jira,5,600,\n"  # unchanged
        "alpha-plant,PI historian,4,\n"  # declared name; blank cost keeps it
        "alpha-plant,shift book,,150.50,\n"  # unresolved adoption found by its declared name
    )
    call_command("import_licences", write(tmp_path, "licences.csv", csv))
    assert "3 adoption(s) updated, 1 unchanged" in capsys.readouterr().out
    for a in landscape.values():
        a.refresh_from_db()
    assert (landscape["gitlab"].seats, landscape["gitlab"].annual_cost) == (25, Decimal("8700"))
    assert (landscape["pi"].seats, landscape["pi"].annual_cost) == (4, Decimal("20000"))
    assert landscape["homegrown"].annual_cost == Decimal("150.50")
    assert landscape["homegrown"].seats == 1
    assert Adoption.objects.count() == 4  # nothing created
    call_command("import_licences", write(tmp_path, "again.csv", csv))
    assert "0 adoption(s) updated, 4 unchanged" in capsys.readouterr().out


def test_a_bad_licence_file_is_rejected_whole_with_one_line_per_problem(
    landscape, world, tmp_path, capsys
):
    tool("Confluence", vendor="Atlassian")
    services.tool_alias_add(tool=landscape["jira"].tool, name="Atlassian Jira DC")
    second = adoption(world.factory_b, landscape["jira"].tool, name="Jira Service Management")
    csv = (
        "factory,tool,seats,annual_cost,currency\n"
        "beta-app,GitLab,30,9000,EUR\n"  # fine, but the file is bad: not written
        "gamma-shop,GitLab,1,10,\n"
        "beta-app,Confluence,3,300,\n"
        "beta-app,Atlassian Jira DC,4,400,\n"
        "beta-app,Totally Unknown Thing,1,1,\n"
        "alpha-plant,AVEVA PI,-1,abc,\n"
        "alpha-plant,Shift Book,2,20,USD\n"
        "beta-app,gitlab.com,31,,\n"
        ",,5,,\n"
    )
    with pytest.raises(CommandError):
        call_command("import_licences", write(tmp_path, "bad.csv", csv))
    err = capsys.readouterr().err.splitlines()
    assert "row 3: factory: unknown factory 'gamma-shop'" in err
    assert (
        "row 4: tool: the factory has no adoption of 'Confluence' (licences update adoptions; "
        "declare the adoption first)" in err
    )
    assert (
        "row 5: tool: 'Atlassian Jira DC' fits 2 adoptions of the factory ('Jira', 'Jira Service "
        "Management'); use one of those names" in err
    )
    assert "row 6: tool: 'Totally Unknown Thing' is not in the registry" in err
    assert "row 7: seats: '-1' is not a whole number ≥ 0" in err
    assert "row 7: annual_cost: 'abc' is not a number" in err
    assert (
        "row 8: currency: USD is not the factory's currency (EUR); convert the amount first" in err
    )
    assert "row 9: tool: 'gitlab.com' repeats row 2 (adoption 'gitlab.com')" in err
    assert "row 10: factory: required" in err and "row 10: tool: required" in err
    landscape["gitlab"].refresh_from_db()
    assert landscape["gitlab"].seats == 10 and second.seats is None


def test_licences_need_the_columns_and_read_xlsx(landscape, tmp_path, capsys):
    with pytest.raises(CommandError):
        call_command(
            "import_licences", write(tmp_path, "cols.csv", "factory,tool\nbeta-app,Jira\n")
        )
    err = capsys.readouterr().err
    assert "row 1: annual_cost: missing column" in err and "row 1: seats: missing column" in err
    book = openpyxl.Workbook()
    book.active.append(["factory", "tool", "seats", "annual_cost"])
    book.active.append(["beta-app", "Jira", 12, 1440])
    buffer = io.BytesIO()
    book.save(buffer)
    path = tmp_path / "licences.xlsx"
    path.write_bytes(buffer.getvalue())
    call_command("import_licences", str(path))
    landscape["jira"].refresh_from_db()
    assert (landscape["jira"].seats, landscape["jira"].annual_cost) == (12, Decimal("1440"))


def test_licence_import_takes_a_constant_number_of_queries(
    world, tmp_path, django_assert_max_num_queries
):
    from registry.importers import read_file
    from registry.licences import import_licences

    tools = [tool(f"Widget {chr(97 + i // 26)}{chr(97 + i % 26)}q") for i in range(60)]
    for t in tools:
        adoption(world.factory_b, t, seats=1, cost=10)
    csv = "factory,tool,seats,annual_cost\n" + "".join(
        f"beta-app,{t.name},{i + 2},{100 + i}\n" for i, t in enumerate(tools)
    )
    frame = read_file(write(tmp_path, "many.csv", csv))
    # + the factories' names and one INSERT of the change-log entries, however many rows;
    # with no broker, 5 more for the factory's KPI figures (annual spend), refreshed inline;
    # one UPDATE of the tools' registry figures (adopters, annual spend).
    with django_assert_max_num_queries(10 + 5 + 1):
        summary = import_licences(frame, detect=False)
    assert summary.updated == 60
    assert Adoption.objects.get(tool=tools[59]).annual_cost == Decimal("159")
