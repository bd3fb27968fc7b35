"""How a catalogue row finds its tool: exact names update, normalised matches become
aliases (reported, never a silent rename or ring move), one product under several names
imports, and a repeated name stays a row error."""

import pandas as pd
import pytest

from registry.importers import ImportRejected, import_registry
from registry.models import RingChange, Tool, ToolAlias


def load(rows):
    return import_registry(pd.DataFrame(rows), detect=False)


def test_one_product_under_two_names_imports_as_one_tool_with_an_alias(db):
    summary = load(
        [
            {"name": "KusionStack", "ring": "trial", "capabilities": "CI/CD"},
            {"name": "KusionStack Server", "ring": "hold"},
        ]
    )
    tool = Tool.objects.get()
    assert (tool.name, tool.ring) == ("KusionStack", "trial")
    assert [a.name for a in tool.aliases.all()] == ["KusionStack Server"]
    assert summary.created == 1 and summary.updated == 0
    assert summary.matched == [
        "row 3: 'KusionStack Server' matched existing 'KusionStack': added as an alias; "
        "its name, ring and other columns are unchanged"
    ]
    assert any("matched existing 'KusionStack'" in line for line in summary.lines())


def test_a_normalised_match_never_renames_or_moves_the_ring(db):
    load([{"name": "Jenkins", "ring": "adopt", "vendor": "Jenkins project"}])
    summary = load([{"name": "Jenkins Server", "ring": "assess", "vendor": "CloudBees"}])
    jenkins = Tool.objects.get()
    assert (jenkins.name, jenkins.ring, jenkins.vendor) == ("Jenkins", "adopt", "Jenkins project")
    assert jenkins.aliases.get().name == "Jenkins Server"
    assert RingChange.objects.filter(tool=jenkins).count() == 1  # only the creation
    assert summary.created == summary.updated == 0
    assert "matched existing 'Jenkins'" in summary.matched[0]
    # Loading the same file again changes nothing and reports the match again.
    again = load([{"name": "Jenkins Server", "ring": "assess"}])
    assert ToolAlias.objects.count() == 1 and "matched existing 'Jenkins'" in again.matched[0]


def test_an_exact_name_updates_ring_and_columns(db):
    load([{"name": "Jenkins", "ring": "adopt"}])
    summary = load([{"name": "jenkins", "ring": "hold", "vendor": "Jenkins project"}])
    jenkins = Tool.objects.get()
    assert (jenkins.ring, jenkins.vendor, jenkins.name) == ("hold", "Jenkins project", "jenkins")
    assert summary.updated == 1 and summary.matched == []
    assert jenkins.ring_changes.first().from_ring == "adopt"


def test_a_row_matching_an_alias_joins_that_tool(db):
    load([{"name": "GitLab", "ring": "adopt", "aliases": "GitLab CI"}])
    summary = load([{"name": "GitLab CI Server", "ring": "hold", "aliases": "GL CI"}])
    gitlab = Tool.objects.get()
    assert gitlab.ring == "adopt"
    assert sorted(gitlab.alias_names) == ["GL CI", "GitLab CI"]
    assert "matched existing 'GitLab'" in summary.matched[0]


def test_exact_row_and_normalised_row_in_one_file(db):
    load([{"name": "Jenkins", "ring": "adopt"}])
    summary = load(
        [{"name": "Jenkins Server", "ring": "assess"}, {"name": "Jenkins", "ring": "trial"}]
    )
    jenkins = Tool.objects.get()
    assert jenkins.ring == "trial" and jenkins.alias_names == ["Jenkins Server"]
    assert summary.updated == 1 and len(summary.matched) == 1


def test_the_same_name_twice_in_one_file_is_a_row_error(db):
    with pytest.raises(ImportRejected) as rejected:
        load([{"name": "KusionStack"}, {"name": "kusionstack "}])
    assert rejected.value.errors == ["row 3: name: 'kusionstack' repeats row 2"]
    assert Tool.objects.count() == 0


def test_an_alias_of_another_tool_is_still_rejected(db):
    load([{"name": "GitLab", "aliases": "GL"}, {"name": "Jenkins"}])
    with pytest.raises(ImportRejected) as rejected:
        load([{"name": "Jenkins", "aliases": "GL"}])
    assert rejected.value.errors == ["row 2: aliases: 'GL' is already an alias of another tool"]
