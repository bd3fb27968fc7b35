"""Page forms and lists without a browser: server validation, names in messages, the sort
whitelist, exports of what is shown, error pages with the navigation."""

import csv
import io

import pytest
from django.test import Client

from coe.models import Factory, Membership
from connectors.models import Connector

pytestmark = pytest.mark.django_db


def _client(world, persona):
    client = Client()
    client.force_login(world.users[persona])
    return client


def test_a_factory_form_with_a_taken_slug_keeps_the_input_and_names_the_field(world):
    client = _client(world, "staff")
    data = {
        "name": "Gamma",
        "slug": "alpha-plant",
        "kind": "software",
        "business_unit": "Digital",
        "currency": "eur",
        "audit_cadence_months": 12,
    }
    response = client.post("/factories/new/", data)
    assert response.status_code == 200
    assert response.context["form"].errors["slug"]
    assert b'value="Gamma"' in response.content
    data["slug"] = "gamma"
    response = client.post("/factories/new/", data, follow=True)
    assert b"Created factory Gamma." in response.content
    assert Factory.objects.get(slug="gamma").currency == "EUR"


def test_a_member_already_in_the_factory_is_a_field_error(world):
    client = _client(world, "staff")
    member = world.users["member_a"]
    response = client.post(
        "/factories/alpha-plant/members/add/", {"user": member.pk, "role": "member"}
    )
    assert "already belongs" in str(response.context["form"].errors["user"])
    assert Membership.objects.filter(user=member).count() == 1


def test_connector_credentials_are_written_but_never_shown(world):
    client = _client(world, "staff")
    data = {
        "factory": world.factory_a.pk,
        "name": "Inventory",
        "kind": "netbox",
        "shown_kind": "netbox",
        "setting_base_url": "ftp://netbox.example",
        "setting_page_size": 100,
        "secret_token": "s3cret",
        "enabled": "on",
    }
    response = client.post("/connectors/new/?kind=netbox", data)
    assert response.status_code == 200 and b"s3cret" not in response.content
    assert "base_url" in str(response.context["form"].errors["setting_base_url"])
    data["setting_base_url"] = "https://netbox.example"
    client.post("/connectors/new/?kind=netbox", data)
    connector = Connector.objects.get(name="Inventory")
    assert connector.settings["page_size"] == 100
    assert connector.credentials_encrypted and "s3cret" not in connector.credentials_encrypted
    assert connector.credentials == {"token": "s3cret"}
    page = client.get(f"/connectors/{connector.pk}/edit/")
    assert b"s3cret" not in page.content


def test_lists_sort_by_whitelisted_columns_only_and_export_what_is_shown(world):
    client = _client(world, "staff")
    names = lambda r: [f.name for f in r.context["page"]]  # noqa: E731
    assert names(client.get("/factories/?sort=-name")) == ["Beta App", "Alpha Plant"]
    assert names(client.get("/factories/?sort=name")) == ["Alpha Plant", "Beta App"]
    # Not a column: the default order, no error.
    assert client.get("/factories/?sort=password").status_code == 200
    response = client.get("/factories/?kind=software&export=csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "slug" and [r[0] for r in rows[1:]] == ["beta-app"]


def test_a_member_sees_only_their_factory_in_the_export(world):
    response = _client(world, "member_a").get("/factories/?export=csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == ["alpha-plant"]


def test_error_pages_carry_the_navigation(world):
    client = _client(world, "member_a")
    refused = client.get("/factories/new/")
    assert refused.status_code == 403 and b'aria-label="Main"' in refused.content
    missing = client.get("/no-such-page/")
    assert missing.status_code == 404 and b'aria-label="Main"' in missing.content
