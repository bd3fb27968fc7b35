"""The demo organisation has tool requests in every state, and loading twice adds none."""

import io

from django.core.management import call_command

from tool_requests.choices import RequestStatus
from tool_requests.demo import load_demo
from tool_requests.models import ToolRequest


def test_demo_has_requests_in_every_state_and_is_idempotent(db):
    from coe.demo import load_core

    call_command("load_demo", stdout=io.StringIO())
    core = load_core()
    load_demo(core, io.StringIO())
    statuses = set(ToolRequest.objects.values_list("status", flat=True))
    assert statuses == set(RequestStatus.values)
    assert ToolRequest.objects.filter(fast_track=True, status="approved").exists()
    assert ToolRequest.objects.exclude(exception_expires_on=None).exists()
    assert ToolRequest.objects.overdue().exists()
    provisioned = ToolRequest.objects.get(status="provisioned")
    assert provisioned.adoption.source == "request"
    count = ToolRequest.objects.count()
    load_demo(core, io.StringIO())
    assert ToolRequest.objects.count() == count
