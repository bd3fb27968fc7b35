"""CoE staff's forms without a browser: a connector form per kind with write-only
credentials, inviting a user by e-mail, currency rates, deletions with a confirmation
(refused while something depends on the object), process versions, and the requests
list's sort and export. Every form: field errors, a message naming the object, and the
other personas refused."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from coe.models import Membership
from connectors.facts import CurrencyRate
from connectors.models import Connector
from registry.models import Process, ProcessAdoption, ProcessVersion, Tool
from tests.pages.helpers import signed_in
from tests.registry.builders import adoption, tool

pytestmark = pytest.mark.django_db

NON_STAFF = ("owner_a", "member_a", "member_b")


def _messages(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


# --- connectors: a form per kind ------------------------------------------------------------


def test_new_connector_asks_the_kind_then_shows_that_kinds_fields(world):
    client = signed_in(world, "staff")
    first = client.get("/connectors/new/").content.decode()
    assert '<label for="id_kind">Kind</label>' in first and ">Endpoint</label>" not in first
    for label in ("OPC UA", "MQTT (Sparkplug B or JSON)", "Modbus TCP", "GitLab"):
        assert f">{label}</option>" in first
    opcua = client.get("/connectors/new/?kind=opcua&name=Press").content.decode()
    assert ">Endpoint</label>" in opcua and ">Password</label>" in opcua
    assert 'type="password"' in opcua and 'value="Press"' in opcua
    modbus = client.get("/connectors/new/?kind=modbus").content.decode()
    assert ">Unit id</label>" in modbus and ">Password</label>" not in modbus
    gitlab = client.get("/connectors/new/?kind=gitlab").content.decode()
    assert ">Project</label>" in gitlab and ">API token</label>" in gitlab


def test_sending_another_kind_shows_its_fields_keeps_what_was_typed_and_saves_nothing(world):
    client = signed_in(world, "staff")
    response = client.post(
        "/connectors/new/",
        {"factory": world.factory_a.pk, "name": "Press", "kind": "opcua", "shown_kind": ""},
    )
    page = response.content.decode()
    assert response.status_code == 200 and ">Endpoint</label>" in page
    assert 'value="Press"' in page and "Fill in the OPC UA settings" in page
    assert not Connector.objects.exists()


def test_an_opcua_connector_keeps_its_password_unless_a_new_one_is_typed(world):
    client = signed_in(world, "staff")
    data = {
        "factory": world.factory_a.pk,
        "name": "Press line",
        "kind": "opcua",
        "shown_kind": "opcua",
        "setting_endpoint": "http://plc.local:4840",
        "setting_security_policy": "None",
        "setting_security_mode": "SignAndEncrypt",
        "secret_username": "reader",
        "secret_password": "pa55word",
        "enabled": "on",
    }
    response = client.post("/connectors/new/?kind=opcua", data)
    assert "opc.tcp://" in str(response.context["form"].errors["setting_endpoint"])
    assert b"pa55word" not in response.content
    data["setting_endpoint"] = "opc.tcp://plc.local:4840"
    response = client.post("/connectors/new/?kind=opcua", data, follow=True)
    assert "Created connector Press line for Alpha Plant." in _messages(response)
    connector = Connector.objects.get(name="Press line")
    assert connector.kind == "opcua"
    assert connector.settings["endpoint"] == "opc.tcp://plc.local:4840"
    assert connector.credentials == {"username": "reader", "password": "pa55word"}

    edit = f"/connectors/{connector.pk}/edit/"
    form_html = client.get(edit).content.decode()
    assert "pa55word" not in form_html and "opc.tcp://plc.local:4840" in form_html
    data["name"] = "Press line 2"
    data.pop("secret_password")
    data.pop("secret_username")
    response = client.post(edit, data, follow=True)
    assert "Saved connector Press line 2." in _messages(response)
    connector.refresh_from_db()
    assert connector.credentials == {"username": "reader", "password": "pa55word"}
    client.post(edit, {**data, "secret_password": "n3w"})
    connector.refresh_from_db()
    assert connector.credentials == {"username": "reader", "password": "n3w"}
    client.post(edit, {**data, "clear_credentials": "on"})
    connector.refresh_from_db()
    assert connector.credentials == {}


def test_an_mqtt_connector_in_json_mode_takes_its_topics_one_per_line(world):
    client = signed_in(world, "staff")
    data = {
        "factory": world.factory_a.pk,
        "name": "Broker",
        "kind": "mqtt",
        "shown_kind": "mqtt",
        "setting_host": "broker.local",
        "setting_mode": "json",
        "enabled": "on",
    }
    response = client.post("/connectors/new/?kind=mqtt", data)
    assert "required in json mode" in str(response.context["form"].errors["setting_topics"])
    data["setting_topics"] = "plant/+/state\n\nplant/+/counters\n"
    data["advanced"] = '{"mapping": {"serial_number": "sn"}}'
    client.post("/connectors/new/?kind=mqtt", data)
    connector = Connector.objects.get(name="Broker")
    assert connector.settings["topics"] == ["plant/+/state", "plant/+/counters"]
    assert connector.settings["mapping"] == {"serial_number": "sn"}
    assert connector.settings["port"] == 1883


def test_an_unknown_advanced_setting_is_an_error_on_the_advanced_field(world):
    client = signed_in(world, "staff")
    response = client.post(
        "/connectors/new/?kind=modbus",
        {
            "factory": world.factory_a.pk,
            "name": "Meters",
            "kind": "modbus",
            "shown_kind": "modbus",
            "setting_host": "10.0.0.9",
            "advanced": '{"surprise": 1}',
        },
    )
    assert "surprise" in str(response.context["form"].errors["advanced"])
    assert not Connector.objects.filter(name="Meters").exists()


@pytest.mark.parametrize("persona", NON_STAFF)
def test_only_coe_staff_open_the_connector_form(world, persona):
    assert signed_in(world, persona).get("/connectors/new/?kind=opcua").status_code == 403


# --- users: an invitation by e-mail ----------------------------------------------------------


def test_inviting_a_user_mails_a_set_password_link_that_activates_the_account(world):
    client = signed_in(world, "staff")
    member = world.users["member_a"]
    member.email = "member.a@example.com"
    member.save()
    response = client.post("/users/invite/", {"email": "Member.A@example.com", "role": "member"})
    assert "already exists" in str(response.context["form"].errors["email"])
    response = client.post("/users/invite/", {"email": "member_a@other.example", "role": "member"})
    assert "username member_a is taken" in str(response.context["form"].errors["username"])
    assert not mail.outbox
    response = client.post(
        "/users/invite/",
        {
            "email": "Ada.Lovelace@Example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "factory": world.factory_a.pk,
            "role": "business_owner",
        },
        follow=True,
    )
    assert "Invited ada.lovelace: a set-password link went to ada.lovelace@example.com." in (
        _messages(response)
    )
    ada = get_user_model().objects.get(username="ada.lovelace")
    assert not ada.is_active and not ada.has_usable_password()
    assert Membership.objects.get(user=ada).factory == world.factory_a
    assert "invited" in response.content.decode()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ada.lovelace@example.com"]
    link = re.search(r"http://testserver(/welcome/\S+/)", mail.outbox[0].body).group(1)

    again = client.post("/users/invite/", {"email": "ada.lovelace@example.com", "role": "member"})
    assert "already exists" in str(again.context["form"].errors["email"])

    visitor = Client()
    form_url = visitor.get(link)["Location"]  # Django moves the token into the session
    page = visitor.get(form_url)
    assert b"Set your password" in page.content and b"ada.lovelace" in page.content
    response = visitor.post(
        form_url,
        {"new_password1": "short", "new_password2": "short"},
    )
    assert response.context["form"].errors
    strong = "Wheel-barrow-77-Orbit"
    response = visitor.post(
        form_url, {"new_password1": strong, "new_password2": strong}, follow=True
    )
    assert "Password set for ada.lovelace; you can sign in now." in _messages(response)
    ada.refresh_from_db()
    assert ada.is_active and ada.check_password(strong)
    assert b"no longer valid" in Client().get(link, follow=True).content


def test_an_invitation_can_be_sent_again_until_it_is_used(world):
    client = signed_in(world, "staff")
    client.post("/users/invite/", {"email": "grace@example.com", "role": "member"})
    grace = get_user_model().objects.get(username="grace")
    response = client.post(f"/users/{grace.pk}/invite-again/", follow=True)
    assert "Sent grace's invitation again to grace@example.com." in _messages(response)
    assert len(mail.outbox) == 2
    member = world.users["member_a"]
    response = client.post(f"/users/{member.pk}/invite-again/", follow=True)
    assert "member_a has already set a password." in _messages(response)


def test_the_user_list_sorts_filters_and_exports(world):
    client = signed_in(world, "staff")
    page = client.get("/users/", {"sort": "-username"}).content.decode()
    assert page.index("staff") < page.index("owner_a") < page.index("member_a")
    export = client.get("/users/", {"q": "member", "export": "csv"}).content.decode()
    rows = list(csv.reader(io.StringIO(export)))
    assert [r[0] for r in rows[1:]] == ["member_a", "member_b"]


@pytest.mark.parametrize("persona", NON_STAFF)
def test_only_coe_staff_invite(world, persona):
    client = signed_in(world, persona)
    assert client.get("/users/").status_code == 403
    response = client.post("/users/invite/", {"email": "x@example.com", "role": "member"})
    assert response.status_code == 403 and not mail.outbox


# --- currency rates --------------------------------------------------------------------------


def test_currency_rates_are_added_checked_changed_and_deleted(world):
    client = signed_in(world, "staff")
    bad = client.post("/currency-rates/new/", {"from_currency": "us", "to_currency": "USD"})
    errors = bad.context["form"].errors
    assert "three-letter" in str(errors["from_currency"]) and "rate" in errors
    same = client.post(
        "/currency-rates/new/", {"from_currency": "usd", "to_currency": "USD", "rate": "1"}
    )
    assert "two different currencies" in str(same.context["form"].errors["to_currency"])
    negative = client.post(
        "/currency-rates/new/", {"from_currency": "USD", "to_currency": "EUR", "rate": "-2"}
    )
    assert "greater than zero" in str(negative.context["form"].errors["rate"])
    response = client.post(
        "/currency-rates/new/",
        {"from_currency": "usd", "to_currency": "eur", "rate": "0.92"},
        follow=True,
    )
    assert "Added the rate 1 USD = 0.92" in _messages(response)
    assert "1 USD = 0.92 EUR" in response.content.decode()
    rate = CurrencyRate.objects.get(from_currency="USD", to_currency="EUR")
    assert rate.rate == Decimal("0.92")
    twice = client.post(
        "/currency-rates/new/", {"from_currency": "USD", "to_currency": "EUR", "rate": "0.9"}
    )
    assert "already exists" in str(twice.context["form"].errors)
    response = client.post(
        f"/currency-rates/{rate.pk}/edit/",
        {"from_currency": "USD", "to_currency": "EUR", "rate": "0.95"},
        follow=True,
    )
    assert "Saved the rate 1 USD = 0.95" in _messages(response)
    confirm = client.get(f"/currency-rates/{rate.pk}/delete/").content.decode()
    assert "Delete the rate USD → EUR?" in confirm
    response = client.post(f"/currency-rates/{rate.pk}/delete/", follow=True)
    assert "Deleted the rate USD → EUR." in _messages(response)
    assert not CurrencyRate.objects.exists()


def test_currency_rates_page_fifty_at_a_time_and_export_every_one(world):
    codes = [f"{a}{b}X" for a in "ABCDEFGH" for b in "ABCDEFGH"][:60]
    CurrencyRate.objects.bulk_create(
        CurrencyRate(from_currency=code, to_currency="EUR", rate=Decimal("1.5")) for code in codes
    )
    client = signed_in(world, "staff")
    first = client.get("/currency-rates/").content.decode()
    assert first.count("= 1.5 EUR") == 50 and "Page 1 of 2" in first
    second = client.get("/currency-rates/?page=2").content.decode()
    assert second.count("= 1.5 EUR") == 10
    rows = list(csv.reader(io.StringIO(client.get("/currency-rates/?export=csv").content.decode())))
    assert len(rows) == 1 + 60


@pytest.mark.parametrize("persona", NON_STAFF)
def test_only_coe_staff_see_and_change_currency_rates(world, persona):
    client = signed_in(world, persona)
    assert client.get("/currency-rates/").status_code == 403
    assert "Currency rates" not in client.get("/").content.decode()
    response = client.post(
        "/currency-rates/new/", {"from_currency": "USD", "to_currency": "EUR", "rate": "1"}
    )
    assert response.status_code == 403 and not CurrencyRate.objects.exists()


# --- deletions with a confirmation -----------------------------------------------------------


def test_a_tool_in_use_is_not_deleted_and_an_unused_one_is(world):
    client = signed_in(world, "staff")
    used, unused = tool("PI System"), tool("Scratchpad")
    adoption(world.factory_a, used)
    refused = client.post(f"/registry/tools/{used.slug}/delete/")
    assert refused.status_code == 409
    assert "1 factories use it" in refused.content.decode()
    assert Tool.objects.filter(pk=used.pk).exists()
    confirm = client.get(f"/registry/tools/{unused.slug}/delete/").content.decode()
    assert "Delete tool Scratchpad?" in confirm
    response = client.post(f"/registry/tools/{unused.slug}/delete/", follow=True)
    assert "Deleted tool Scratchpad." in _messages(response)
    assert not Tool.objects.filter(pk=unused.pk).exists()
    assert signed_in(world, "owner_a").post(f"/registry/tools/{used.slug}/delete/").status_code == (
        403
    )


def test_a_tool_only_a_request_names_is_refused_with_the_reason_not_a_server_error(world):
    from tool_requests.models import ToolRequest

    asked = tool("Requested only")
    ToolRequest.objects.create(
        factory=world.factory_a,
        requester=world.users["member_a"],
        tool=asked,
        justification="Needed for the line",
    )
    client = signed_in(world, "staff")
    refused = client.post(f"/registry/tools/{asked.slug}/delete/")
    assert refused.status_code == 409
    assert "cannot be deleted: it is still referenced." in _messages(refused)
    assert Tool.objects.filter(pk=asked.pk).exists()


def test_process_versions_are_edited_and_deleted_unless_adopted(world):
    client = signed_in(world, "staff")
    process = Process.objects.create(name="Line clearance", slug="line-clearance")
    first = ProcessVersion.objects.create(process=process, version="1.0", steps="Check")
    second = ProcessVersion.objects.create(process=process, version="1.1", steps="Check")
    ProcessAdoption.objects.create(factory=world.factory_a, process_version=first)
    clash = client.post(
        "/registry/processes/line-clearance/versions/1.1/edit/",
        {"version": "1.0", "released_on": "2026-01-05", "steps": "Check twice"},
    )
    assert "already has a version 1.0" in str(clash.context["form"].errors["version"])
    response = client.post(
        "/registry/processes/line-clearance/versions/1.1/edit/",
        {
            "version": "1.2",
            "released_on": "2026-01-05",
            "steps": "Check twice",
            "links_text": "https://wiki.example/clearance",
        },
        follow=True,
    )
    assert "Saved Line clearance 1.2." in _messages(response)
    second.refresh_from_db()
    assert second.version == "1.2" and second.links == ["https://wiki.example/clearance"]
    assert client.post("/registry/processes/line-clearance/versions/1.0/delete/").status_code == (
        409
    )
    assert client.post("/registry/processes/line-clearance/delete/").status_code == 409
    response = client.post("/registry/processes/line-clearance/versions/1.2/delete/", follow=True)
    assert "Deleted Line clearance 1.2." in _messages(response)
    assert list(process.versions.values_list("version", flat=True)) == ["1.0"]
    member = signed_in(world, "member_a")
    assert member.get("/registry/processes/line-clearance/versions/1.0/edit/").status_code == 403


# --- the requests list ----------------------------------------------------------------------


def test_the_requests_list_sorts_filters_by_factory_and_exports_what_it_shows(world):
    from tests.tool_requests.request_helpers import make_request

    make_request(world, key="a", who="member_a", estimated_annual_cost=Decimal("900"))
    make_request(world, key="a", who="owner_a", estimated_annual_cost=Decimal("15000"))
    make_request(world, key="b", who="member_b", estimated_annual_cost=Decimal("400"))
    client = signed_in(world, "staff")
    page = client.get("/requests/", {"view": "all", "sort": "-cost"}).content.decode()
    assert page.index("15,000") < page.index("900") < page.index("400")
    assert '<label for="r-factory">Factory</label>' in page
    export = client.get(
        "/requests/", {"view": "all", "factory": "alpha-plant", "sort": "cost", "export": "csv"}
    ).content.decode()
    rows = list(csv.DictReader(io.StringIO(export)))
    assert [(r["factory"], r["annual_cost"]) for r in rows] == [
        ("Alpha Plant", "900.00"),
        ("Alpha Plant", "15000.00"),
    ]
    mine = signed_in(world, "member_b").get("/requests/", {"view": "all", "export": "csv"})
    assert [r["factory"] for r in csv.DictReader(io.StringIO(mine.content.decode()))] == [
        "Beta App"
    ]


def test_a_mail_server_that_refuses_is_said_and_the_invitation_can_be_sent_later(world, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    client = signed_in(world, "staff")
    response = client.post(
        "/users/invite/", {"email": "lin@example.com", "role": "member"}, follow=True
    )
    assert response.status_code == 200
    said = _messages(response)
    assert "The account lin exists but the invitation could not be mailed" in said
    assert "Invited" not in said
    assert not get_user_model().objects.get(username="lin").is_active


def test_a_capability_with_sub_capabilities_stays_and_a_leaf_goes(world):
    from registry.models import Capability

    parent = Capability.objects.create(name="Line telemetry", slug="line-telemetry")
    leaf = Capability.objects.create(name="Spindle traces", slug="spindle-traces", parent=parent)
    client = signed_in(world, "staff")
    listing = client.get("/registry/capabilities/").content.decode()
    assert 'Delete<span class="sr-only"> Spindle traces' in listing
    assert 'Delete<span class="sr-only"> Line telemetry' not in listing
    refused = client.post("/registry/capabilities/line-telemetry/delete/")
    assert refused.status_code == 409 and "1 capabilities sit under it" in refused.content.decode()
    response = client.post("/registry/capabilities/spindle-traces/delete/", follow=True)
    assert "Deleted capability Spindle traces." in _messages(response)
    assert not Capability.objects.filter(pk=leaf.pk).exists()
    assert Capability.objects.filter(pk=parent.pk).exists()
