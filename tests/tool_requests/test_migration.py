"""Moving the request models from ``registry`` to ``tool_requests`` keeps every row.

The database is taken back to the state before the move (registry 0003, the models in
``registry``), requests with their history, comments and change-log entries are written
through that state's models, and ``migrate`` runs forward: the new app reads the same
rows, and the change log follows the models to their new content type.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE_MOVE = [("registry", "0003_tool_requests"), ("tool_requests", None)]


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _leaves() -> list:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_an_existing_database_keeps_its_requests_through_the_move():
    _migrate(BEFORE_MOVE)
    try:
        # The models as the applied migrations left them (what django-test-migrations does).
        old = MigrationExecutor(connection)._create_project_state(with_applied_migrations=True).apps
        User = old.get_model("auth", "User")
        Factory = old.get_model("coe", "Factory")
        Tool = old.get_model("registry", "Tool")
        OldRequest = old.get_model("registry", "ToolRequest")
        OldTransition = old.get_model("registry", "RequestTransition")
        OldComment = old.get_model("registry", "RequestComment")
        OldContentType = old.get_model("contenttypes", "ContentType")
        LogEntry = old.get_model("auditlog", "LogEntry")

        requester = User.objects.create(username="old.requester")
        factory = Factory.objects.create(slug="old-plant", name="Old Plant", kind="software")
        tool = Tool.objects.create(name="Grafana", slug="grafana", normalized_name="grafana")
        request = OldRequest.objects.create(
            factory=factory,
            requester=requester,
            tool=tool,
            justification="Dashboards for the shift",
            status="submitted",
            owner_due_on=dt.date(2026, 1, 5),
        )
        proposed = OldRequest.objects.create(
            factory=factory,
            requester=requester,
            proposed_name="Homegrown Tracker",
            justification="Nothing else fits",
        )
        OldTransition.objects.create(
            request=request, actor=requester, action="submit", from_status="draft",
            to_status="submitted",
        )  # fmt: skip
        top = OldComment.objects.create(request=request, author=requester, body="Why not X?")
        OldComment.objects.create(request=request, author=requester, body="Because.", parent=top)
        old_type, _ = OldContentType.objects.get_or_create(
            app_label="registry", model="toolrequest"
        )
        LogEntry.objects.create(
            content_type=old_type,
            object_pk=str(request.pk),
            object_id=request.pk,
            object_repr="#1",
            action=0,
            changes={"status": ["draft", "submitted"]},
        )
    finally:
        _migrate(_leaves())
    ContentType.objects.clear_cache()

    from auditlog.models import LogEntry as NewLogEntry

    from tool_requests.models import RequestComment, RequestTransition, ToolRequest

    moved = ToolRequest.objects.get(pk=request.pk)
    assert moved.justification == "Dashboards for the shift"
    assert moved.status == "submitted" and moved.owner_due_on == dt.date(2026, 1, 5)
    assert moved.tool.slug == "grafana" and moved.requester.username == "old.requester"
    assert ToolRequest.objects.get(pk=proposed.pk).proposed_name == "Homegrown Tracker"
    actions = RequestTransition.objects.filter(request=moved).values_list("action", flat=True)
    assert list(actions) == ["submit"]
    assert RequestComment.objects.filter(request=moved).count() == 2
    assert RequestComment.objects.get(body="Because.").parent.body == "Why not X?"
    # The change log follows the model: its entry is found through the new app's model.
    entries = NewLogEntry.objects.get_for_object(moved)
    assert [e.changes_dict for e in entries] == [{"status": ["draft", "submitted"]}]
    assert not ContentType.objects.filter(app_label="registry", model="toolrequest").exists()
    # New rows go to the same tables and continue the ids.
    new = ToolRequest.objects.create(
        factory=moved.factory, requester=moved.requester, proposed_name="Later", justification="x"
    )
    assert new.pk > proposed.pk
    assert ToolRequest._meta.db_table == "registry_toolrequest"
