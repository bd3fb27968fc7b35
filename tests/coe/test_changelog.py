"""The change log: every origin (api, page, admin, command, task, system) leaves entries
with its actor; objects written in bulk get one entry each, written in one statement."""

from __future__ import annotations

from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.urls import reverse

from coe.changelog import Origin, change_context, log_bulk
from connectors.facts import FinanceEntry
from connectors.models import SyncRun
from registry import services
from registry.detection import duplicates_detect
from registry.importers import import_adoptions, import_registry, read_file
from registry.models import Adoption, DuplicateFinding, Tool
from registry.tasks import detect_duplicates_task
from tests.connectors.helpers import make_connector
from tests.registry.builders import adoption, capability, tool


def entries_for(model, **filters):
    content_type = ContentType.objects.get_for_model(model)
    return LogEntry.objects.filter(content_type=content_type, **filters).order_by("id")


def origin(entry: LogEntry) -> str:
    return entry.additional_data["origin"]


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def word(i: int) -> str:
    """A name part of letters only (names are matched without their numbers)."""
    return "".join(chr(97 + (i // 26**k) % 26) for k in range(3))


TOOL_HEADER = "name,vendor,capabilities,ring,aliases,annual_cost_per_seat,description,homepage\n"


def tools_csv(n: int, start: int = 0, ring: str = "assess") -> str:
    return TOOL_HEADER + "".join(
        f"Bulk {word(i)},Vendor {word(i % 7)},CI/CD,{ring},alias {word(i)},{10 + i},,\n"
        for i in range(start, start + n)
    )


# --- every origin ----------------------------------------------------------------------------


def test_an_api_change_is_logged_with_origin_api_and_the_token_user(world):
    response = world.client("owner_a").get(reverse("api:factory-list"))
    assert response.status_code == 200
    world.client("staff").patch(
        reverse("api:factory-detail", args=["alpha-plant"]), {"site": "Zwickau"}, format="json"
    )
    entry = entries_for(type(world.factory_a), action=1).last()
    assert origin(entry) == "api" and entry.actor == world.users["staff"]
    listed = world.client("staff").get(reverse("api:logentry-list"), {"origin": "api"}).json()
    assert listed["results"][0]["origin"] == "api" and listed["results"][0]["actor"] == "staff"


def test_a_page_change_is_logged_with_origin_page(world, client):
    hold = tool("Jenkins", ring="adopt")
    client.force_login(world.users["staff"])
    client.post(
        reverse("tool-set-ring", args=[hold.slug]), {"ring": "hold", "reason": "Consolidating"}
    )
    entry = entries_for(Tool, object_pk=str(hold.pk), action=1).last()
    assert entry.changes_dict["ring"] == ["adopt", "hold"]
    assert origin(entry) == "page" and entry.actor == world.users["staff"]


def test_an_admin_change_is_logged_with_origin_admin(world, client):
    staff = world.users["staff"]
    staff.is_staff = staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    capability_row = capability("observability", "Observability")
    url = reverse("admin:registry_capability_change", args=[capability_row.pk])
    form = client.get(url).context["adminform"].form
    data = {
        name: (value if value is not None else "")
        for name, value in ((f, form[f].value()) for f in form.fields)
    }
    data["name"] = "Observability and tracing"
    response = client.post(url, data)
    assert response.status_code == 302, response.content[:1000]
    entry = entries_for(type(capability_row), object_pk=str(capability_row.pk), action=1).last()
    assert origin(entry) == "admin" and entry.actor == staff


def test_a_command_logs_each_imported_tool_with_origin_command_and_no_actor(db, tmp_path):
    call_command("import_registry", write(tmp_path, "tools.csv", tools_csv(3)))
    created = entries_for(Tool, action=0)
    assert created.count() == 3
    for entry in created:
        assert origin(entry) == "command" and entry.additional_data["via"] == "import_registry"
        assert entry.actor is None
        assert entry.changes_dict["ring"] == ["None", "assess"]
    assert {e.object_repr for e in created} == {"Bulk aaa", "Bulk baa", "Bulk caa"}


def test_a_task_logs_with_origin_task_and_its_name(world):
    ci = capability("ci")
    a, b = tool("GitLab", caps=[ci], ring="adopt"), tool("Jenkins", caps=[ci], ring="hold")
    adoption(world.factory_a, a, cost="100")
    adoption(world.factory_a, b, cost="200")
    detect_duplicates_task.delay()
    opened = entries_for(DuplicateFinding, action=0)
    assert opened.exists()
    entry = opened.first()
    assert origin(entry) == "task"
    assert entry.additional_data["via"] == "registry.tasks.detect_duplicates_task"
    assert entry.actor is None


@pytest.mark.django_db(transaction=True)
def test_a_task_started_from_a_request_names_the_user_as_its_actor(world):
    # A real commit: the task is enqueued when the request's transaction commits, inside it.
    connector = make_connector(world.factory_a, settings={"endpoint": "opc.tcp://127.0.0.1:1"})
    response = world.client("staff").post(
        reverse("api:connector-sync", args=[connector.pk]), {}, format="json"
    )
    run = SyncRun.objects.get(pk=response.json()["id"])
    statuses = [
        (e.changes_dict.get("status"), origin(e), e.actor)
        for e in entries_for(SyncRun, object_pk=str(run.pk))
    ]
    staff = world.users["staff"]
    assert statuses[0] == (["None", "queued"], "api", staff)  # created by the request
    assert (["queued", "running"], "task", staff) in statuses
    assert statuses[-1] == (["running", "failed"], "task", staff)
    final = entries_for(SyncRun, object_pk=str(run.pk)).last()
    assert "unreachable" in final.additional_data["summary"]["message"]


def test_a_change_outside_any_context_is_logged_as_the_system(world):
    services.tool_create(name="Grafana", vendor="Grafana Labs", ring="trial")
    entry = entries_for(Tool).last()
    assert origin(entry) == "system" and entry.actor is None
    staff = world.client("staff")
    rows = staff.get(reverse("api:logentry-list"), {"origin": "system", "model": "registry.tool"})
    assert rows.json()["count"] == 1 and rows.json()["results"][0]["actor"] is None


def test_change_context_sets_the_actor_of_bulk_entries(world):
    tools = [tool(f"T{i}") for i in range(3)]
    with change_context(origin=Origin.COMMAND, actor=world.users["staff"], via="test"):
        written = log_bulk(Tool, ids=[t.pk for t in tools], action="update",
                           changes={"ring": ["assess", "hold"]})  # fmt: skip
    assert written == 3
    for entry in entries_for(Tool, action=1):
        assert entry.actor == world.users["staff"] and origin(entry) == "command"
        assert entry.changes_dict == {"ring": ["assess", "hold"]}


# --- bulk writes ---------------------------------------------------------------------------------


def _registry_import_queries(tmp_path, n: int, start: int) -> tuple[int, int]:
    """(queries on the change log, all queries) of importing ``n`` new tools."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    frame = read_file(write(tmp_path, f"t{start}.csv", tools_csv(n, start)))
    with CaptureQueriesContext(connection) as queries:
        import_registry(frame, detect=False)
    log = [q for q in queries.captured_queries if "auditlog_logentry" in q["sql"]]
    return len(log), len(queries)


def test_a_bulk_registry_import_logs_every_tool_in_a_constant_number_of_queries(db, tmp_path):
    capability("ci-cd", "CI/CD")
    _registry_import_queries(tmp_path, 2, 1000)  # warms the content-type cache
    small_log, small = _registry_import_queries(tmp_path, 5, 0)
    large_log, large = _registry_import_queries(tmp_path, 400, 100)
    from django.db import connection

    if connection.vendor == "postgresql":
        # The entries go by COPY on the driver's cursor (outside Django's query log): the
        # whole import takes the same number of statements for 5 tools as for 400.
        assert large == small, (small, large)
    else:
        # One INSERT each for the tools, their aliases and their ring changes, whatever
        # their number (the import's own bulk_create is batched by SQLite's limits).
        assert small_log == large_log == 3, (small_log, large_log)
        assert large - small <= 12, (small, large)
    assert entries_for(Tool, action=0).count() == 407
    # Re-importing changed rows logs one update per changed tool, with the difference.
    frame = read_file(write(tmp_path, "again.csv", tools_csv(400, 100, ring="hold")))
    import_registry(frame, detect=False)
    updates = entries_for(Tool, action=1)
    assert updates.count() == 400
    assert all(u.changes_dict["ring"] == ["assess", "hold"] for u in updates)


def test_a_bulk_adoption_import_logs_each_created_and_changed_adoption(world, tmp_path):
    gitlab = tool("GitLab", ring="adopt")
    csv = "factory,tool,vendor,capability,seats,annual_cost\n" + "".join(
        f"alpha-plant,Local {word(i)},,,{i + 1},100\n" for i in range(30)
    )
    csv += "alpha-plant,GitLab,,,5,500\n"
    import_adoptions(read_file(write(tmp_path, "a.csv", csv)), detect=False)
    created = entries_for(Adoption, action=0)
    assert created.count() == 31
    assert "Alpha Plant: GitLab" in {e.object_repr for e in created}
    assert {origin(e) for e in created} == {"system"}
    with change_context(origin=Origin.PAGE, actor=world.users["staff"]):
        import_adoptions(
            read_file(write(tmp_path, "b.csv", csv.replace("5,500", "7,700"))), detect=False
        )
    changed = entries_for(Adoption, action=1, additional_data__origin="page")
    gitlab_entry = changed.get(object_repr="Alpha Plant: GitLab")
    assert gitlab_entry.changes_dict["seats"] == ["5", "7"]
    assert gitlab_entry.actor == world.users["staff"]
    assert Adoption.objects.get(tool=gitlab).seats == 7


def _detected_overlap(world):
    """Factory a runs GitLab (100) and Jenkins (200) for CI, detected: (the overlap, the
    Jenkins adoption)."""
    ci = capability("ci")
    a, b = tool("GitLab", caps=[ci], ring="adopt"), tool("Jenkins", caps=[ci], ring="hold")
    adoption(world.factory_a, a, cost="100")
    second = adoption(world.factory_a, b, cost="200")
    duplicates_detect()
    finding = DuplicateFinding.objects.get(kind="overlap")
    return finding, second


def test_detection_logs_findings_opened_resolved_and_reopened(world):
    finding, second = _detected_overlap(world)
    assert entries_for(DuplicateFinding, object_pk=str(finding.pk), action=0).count() == 1
    second.status = "retired"
    second.save()
    duplicates_detect()
    resolved = entries_for(DuplicateFinding, object_pk=str(finding.pk), action=1).last()
    assert resolved.changes_dict["status"] == ["open", "resolved"]
    second.status = "active"
    second.save()
    duplicates_detect()
    reopened = entries_for(DuplicateFinding, object_pk=str(finding.pk), action=1).last()
    assert reopened.changes_dict["status"] == ["resolved", "open"]
    # A re-run that changes nothing logs nothing.
    count = LogEntry.objects.count()
    duplicates_detect()
    assert LogEntry.objects.count() == count


def test_detection_logs_what_an_update_changed_and_nothing_else(world):
    finding, second = _detected_overlap(world)
    second.annual_cost = Decimal("250")
    second.save()
    duplicates_detect()
    changed = entries_for(DuplicateFinding, object_pk=str(finding.pk), action=1).last()
    assert changed.changes_dict["annual_cost_at_stake"] == ["200.00", "250.00"]
    assert {"key", "status", "kind", "scope"}.isdisjoint(changed.changes_dict)


def test_a_fact_import_leaves_one_summary_entry_with_the_file_and_counts(world, tmp_path):
    rows = "".join(
        f"alpha-plant,2026-0{m}-01,investment,Sensors,{1000 * m},EUR,Batch {m}\n"
        for m in range(1, 7)
    )
    path = write(tmp_path, "finance.csv", "factory,date,kind,category,amount,currency,"
                 "description\n" + rows)  # fmt: skip
    call_command("import_finance", path)
    entries = entries_for(FinanceEntry)
    assert entries.count() == 1
    entry = entries.get()
    summary = entry.additional_data["summary"]
    assert summary["file"] == "finance.csv" and summary["created"] == 6 and summary["rows"] == 6
    assert summary["factories"] == ["alpha-plant"]
    assert origin(entry) == "command" and "6 created" in entry.object_repr
    assert sum(FinanceEntry.objects.values_list("amount", flat=True)) == Decimal("21000")
    call_command("import_finance", path)  # the same file again writes nothing, logs nothing
    assert entries_for(FinanceEntry).count() == 1


@pytest.mark.parametrize("persona", ["member_a", "owner_a"])
def test_members_see_origin_but_not_addresses_in_history(world, persona):
    world.client("staff").patch(
        reverse("api:factory-detail", args=["alpha-plant"]), {"region": "EMEA"}, format="json"
    )
    rows = (
        world.client(persona)
        .get(reverse("api:factory-history", args=["alpha-plant"]))
        .json()["results"]
    )
    update = next(r for r in rows if r["action"] == "update")
    assert update["origin"] == "api" and update["actor"] == "staff"
    assert update["remote_addr"] is None
