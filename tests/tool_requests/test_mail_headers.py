"""Values that reach a mail header: a line break is refused where it is typed (a proposed
tool's name, vendor) and stripped at send (a name that came another way); one mail that
fails never stops the others, in a transition or in the overdue-reminder batch."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from registry.models import Tool
from tests.tool_requests.request_helpers import make_request, move, registry
from tool_requests import services as request_services
from tool_requests.models import ToolRequest
from tool_requests.notifications import header_text, send_overdue_reminders

LIST = "/api/tool-requests/"
BREAKS = ["Jenkins\nBcc: all@example.com", "Jenkins\r\n", "Jen\rkins", "Jenkins\u2028CI", "A\x00B"]


@pytest.mark.parametrize("name", BREAKS)
def test_a_line_break_in_a_proposed_name_is_a_400(world, name):
    reg = registry(world)
    payload = {
        "factory": world.factory_a.slug,
        "proposed_tool": {"name": name},
        "capability": reg["cap"].slug,
        "justification": "Pipelines",
    }
    client = world.client("member_a")
    response = client.post(LIST, payload, format="json")
    assert response.status_code == 400, response.content
    if "\x00" in name:  # the JSON parser refuses a NUL anywhere in a body, before any field
        assert "NUL" in str(response.json()) or "ull" in str(response.json())
        assert not ToolRequest.objects.exists()
        return
    assert response.json()["proposed_tool"]["name"][0] in (
        "Line breaks and control characters are not allowed here.",
        "Null characters are not allowed.",  # DRF's own refusal comes first for NUL
    )
    preview = client.post(f"{LIST}preview/", payload, format="json")
    assert preview.status_code == 400
    assert not ToolRequest.objects.exists()


def test_a_line_break_in_the_vendor_or_an_edit_is_a_400(world):
    reg = registry(world)
    client = world.client("member_a")
    payload = {
        "factory": world.factory_a.slug,
        "proposed_tool": {"name": "Buildkite", "vendor": "Buildkite\nX-Evil: 1"},
        "capability": reg["cap"].slug,
        "justification": "Pipelines",
    }
    assert client.post(LIST, payload, format="json").status_code == 400
    payload["proposed_tool"]["vendor"] = "Buildkite Pty"
    created = client.post(LIST, payload, format="json")
    assert created.status_code == 201
    edit = client.patch(
        f"{LIST}{created.json()['id']}/",
        {"proposed_tool": {"name": "Buildkite\nBcc: x@example.com"}},
        format="json",
    )
    assert edit.status_code == 400
    assert ToolRequest.objects.get().proposed_name == "Buildkite"


def test_the_service_refuses_a_line_break_whoever_calls_it(world):
    reg = registry(world)
    with pytest.raises(ValidationError) as refused:
        make_request(world, tool_obj=None, proposed_name="Jenkins\n", capability=reg["cap"])
    assert "proposed_name" in refused.value.message_dict


def test_the_request_form_shows_the_error(world, client):
    from tests.registry.builders import capability

    parent = capability("operations", "Operations")
    cap = capability("ci", "Continuous integration")
    cap.parent = parent
    cap.save()
    client.force_login(world.users["member_a"])
    response = client.post(
        "/requests/new/",
        {
            "factory": world.factory_a.slug,
            "proposed_name": "Jenkins\nBcc: all@example.com",
            "capability": cap.slug,
            "justification": "Pipelines",
        },
    )
    assert response.status_code == 200
    assert "Line breaks and control characters are not allowed here." in response.content.decode()
    assert not ToolRequest.objects.exists()


def test_header_text_strips_every_kind_of_line_break():
    assert header_text("A\r\nBcc: x\u2028y\x85z\tw") == "A Bcc: x y z w"
    assert header_text("plain name") == "plain name"


def test_a_registry_name_with_a_line_break_is_stripped_at_send(
    world, django_capture_on_commit_callbacks
):
    """Names that were not typed into a request (the registry, an import) still reach the
    subject: they are stripped there, and the mail goes."""
    req = make_request(world)
    Tool.objects.filter(pk=req.tool_id).update(name="Datadog\nBcc: all@example.com")
    req.refresh_from_db()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        move(req, ("submit", world.users["member_a"]))
    assert [m.to for m in mail.outbox] == [["owner_a@example.com"]]
    subject = mail.outbox[0].subject
    assert "\n" not in subject and "Datadog Bcc: all@example.com for Alpha Plant" in subject
    assert mail.outbox[0].message()["Bcc"] is None


def overdue(req: ToolRequest) -> ToolRequest:
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    ToolRequest.objects.filter(pk=req.pk).update(owner_due_on=yesterday, coe_due_on=yesterday)
    req.refresh_from_db()
    return req


def test_one_bad_mail_does_not_abort_the_reminder_batch(world):
    staff, owner = world.users["staff"], world.users["owner_a"]
    reg = registry(world)
    # 1: waits for the owner, whose address is broken; 2: its tool's registry name holds a
    # line break; 3: waits for CoE staff, a plain one.
    broken = overdue(move(make_request(world), ("submit", world.users["member_a"])))
    member = world.users["member_a"]
    odd = make_request(world, tool_obj=reg["nagios"])
    odd = overdue(move(odd, ("submit", member), ("approve", owner)))
    Tool.objects.filter(pk=reg["nagios"].pk).update(name="Nagios\r\nX-Evil: 1")
    plain = overdue(move(make_request(world), ("submit", member), ("approve", owner)))
    get_user_model().objects.filter(pk=owner.pk).update(email="owner\n@example.com")
    mail.outbox.clear()

    sent = send_overdue_reminders()

    assert sent == 2
    subjects = sorted(m.subject for m in mail.outbox)
    assert all(m.to == [staff.email] for m in mail.outbox)
    assert any(f"#{plain.pk}" in s for s in subjects)
    assert any(f"#{odd.pk} (Nagios X-Evil: 1 for" in s for s in subjects)
    reminded = dict(ToolRequest.objects.values_list("pk", "last_reminded_on"))
    today = timezone.localdate()
    assert reminded[plain.pk] == today and reminded[odd.pk] == today
    assert reminded[broken.pk] is None  # tried again on the next run
    get_user_model().objects.filter(pk=owner.pk).update(email="owner_a@example.com")
    mail.outbox.clear()
    assert send_overdue_reminders() == 1
    assert [m.to for m in mail.outbox] == [["owner_a@example.com"]]


def test_one_bad_address_does_not_stop_a_transitions_other_mails(
    world, django_capture_on_commit_callbacks
):
    from coe.services import user_set_coe_staff
    from tests.factories import UserFactory

    second = UserFactory(username="staff2")
    user_set_coe_staff(user=second, is_staff=True)
    get_user_model().objects.filter(pk=world.users["staff"].pk).update(email="staff\r@x.com")
    req = move(make_request(world), ("submit", world.users["member_a"]))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        req = request_services.tool_request_transition(
            tool_request=req, action="approve", actor=world.users["owner_a"]
        )
    assert req.status == "owner_approved"
    assert [m.to for m in mail.outbox] == [["staff2@example.com"]]
