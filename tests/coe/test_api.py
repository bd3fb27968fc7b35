"""Generic persona tests of the core endpoints, and the behaviour around them."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from coe.api.history import AuditLogViewSet
from coe.api.views import FactoryViewSet, MembershipViewSet, UserViewSet
from coe.choices import Role
from coe.models import Factory, Membership
from tests.api_mixins import APIViewTestCase
from tests.factories import FactoryFactory, MembershipFactory, UserFactory


class TestFactoryAPI(APIViewTestCase):
    basename = "factory"
    viewset = FactoryViewSet
    lookup_field = "slug"
    identity_field = "slug"

    def make_object(self, world, key):
        return world.factory_of(key)

    def make_many(self, world, count):
        for i in range(count):
            factory = FactoryFactory(slug=f"bulk-{i}")
            MembershipFactory(factory=factory, role=Role.BUSINESS_OWNER)

    def create_payload(self, world):
        return {
            "slug": "gamma-works",
            "name": "Gamma Works",
            "kind": "manufacturing",
            "business_unit": "Energy",
            "site": "Gdańsk",
            "currency": "pln",
        }

    def update_payload(self, world, obj):
        return {"description": "Now with a digital twin of line 3."}


class TestMembershipAPI(APIViewTestCase):
    basename = "membership"
    viewset = MembershipViewSet

    def make_object(self, world, key):
        return MembershipFactory(factory=world.factory_of(key))

    def create_payload(self, world):
        return {"user": "member_b", "factory": "alpha-plant", "role": "member"}

    def update_payload(self, world, obj):
        return {"role": "business_owner"}


class TestUserAPI(APIViewTestCase):
    basename = "user"
    viewset = UserViewSet
    visible = {"staff": {"a", "b"}, "owner_a": set(), "member_a": {"a"}, "member_b": {"b"}}
    write_only_fields = ("password",)

    def make_object(self, world, key):
        return world.users[{"a": "member_a", "b": "member_b"}[key]]

    def make_many(self, world, count):
        for i in range(count):
            MembershipFactory(user=UserFactory(username=f"bulk{i}"), factory=world.factory_a)

    def create_payload(self, world):
        return {
            "username": "new.engineer",
            "email": "new@example.com",
            "password": "a-long-passphrase-for-tests",
            "is_coe_staff": False,
        }

    def update_payload(self, world, obj):
        return {"first_name": "Renamed"}


class TestAuditLogAPI(APIViewTestCase):
    basename = "logentry"
    viewset = AuditLogViewSet
    visible = {"staff": {"a", "b"}}
    list_forbidden = {"owner_a", "member_a", "member_b"}
    read_only = True

    def make_object(self, world, key):
        factory = world.factory_of(key)
        factory.description = f"changed {factory.slug}"
        factory.save()
        return LogEntry.objects.filter(object_pk=str(factory.pk)).latest("timestamp")

    def make_many(self, world, count):
        for i in range(count):
            FactoryFactory(slug=f"logged-{i}")

    def create_payload(self, world):
        return {"object_pk": "1"}

    def update_payload(self, world, obj):
        return {"object_repr": "x"}


def test_token_is_issued_for_valid_credentials_only(world):
    client = world.client("anonymous")
    url = reverse("api:auth-token")
    ok = client.post(url, {"username": "member_a", "password": "test-password-4711"})
    assert ok.status_code == 200 and len(ok.json()["token"]) == 40
    bad = client.post(url, {"username": "member_a", "password": "wrong"})
    assert bad.status_code == 400
    assert "non_field_errors" in bad.json()


def test_token_authenticates_later_requests(world):
    token = (
        world.client("anonymous")
        .post(reverse("api:auth-token"), {"username": "member_b", "password": "test-password-4711"})
        .json()["token"]
    )
    client = world.client("anonymous")
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    slugs = [f["slug"] for f in client.get(reverse("api:factory-list")).json()["results"]]
    assert slugs == ["beta-app"]


def test_factory_filters_by_kind_business_unit_and_text(world):
    client = world.client("staff")
    url = reverse("api:factory-list")
    assert [f["slug"] for f in client.get(url, {"kind": "software"}).json()["results"]] == [
        "beta-app"
    ]
    assert [
        f["slug"] for f in client.get(url, {"business_unit": "automotive"}).json()["results"]
    ] == ["alpha-plant"]
    assert [f["slug"] for f in client.get(url, {"q": "alpha"}).json()["results"]] == ["alpha-plant"]
    bad = client.get(url, {"kind": "spaceship"})
    assert bad.status_code == 400 and "kind" in bad.json()


def test_factory_shows_its_business_owners(world):
    body = world.client("owner_a").get(reverse("api:factory-detail", args=["alpha-plant"])).json()
    assert body["business_owners"] == ["owner_a"]
    assert body["kind"] == "manufacturing"


def test_invalid_factory_gets_an_error_per_field(world):
    response = world.client("staff").post(
        reverse("api:factory-list"),
        {
            "slug": "alpha-plant",
            "name": "",
            "kind": "bakery",
            "business_unit": "X",
            "currency": "euro",
        },
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()) >= {"slug", "name", "kind", "currency"}
    assert Factory.objects.count() == 2


def test_membership_filters_by_factory_slug_and_id(world):
    client = world.client("staff")
    url = reverse("api:membership-list")
    by_slug = client.get(url, {"factory": "alpha-plant"}).json()["results"]
    by_id = client.get(url, {"factory_id": world.factory_a.pk}).json()["results"]
    assert {m["user"] for m in by_slug} == {"owner_a", "member_a"} == {m["user"] for m in by_id}
    assert {m["role"] for m in client.get(url, {"role": "business_owner"}).json()["results"]} == {
        "business_owner"
    }


def test_one_membership_per_user_and_factory(world):
    response = world.client("staff").post(
        reverse("api:membership-list"),
        {"user": "member_a", "factory": "alpha-plant", "role": "business_owner"},
        format="json",
    )
    assert response.status_code == 400
    assert Membership.objects.filter(user=world.users["member_a"]).count() == 1


def test_staff_creates_a_user_who_can_then_log_in(world):
    response = world.client("staff").post(
        reverse("api:user-list"),
        {
            "username": "new.auditor",
            "password": "a-long-passphrase-for-tests",
            "is_coe_staff": True,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert "password" not in response.json()
    assert response.json()["is_coe_staff"] is True
    token = world.client("anonymous").post(
        reverse("api:auth-token"),
        {"username": "new.auditor", "password": "a-long-passphrase-for-tests"},
    )
    assert token.status_code == 200


def test_weak_password_is_refused(world):
    response = world.client("staff").post(
        reverse("api:user-list"), {"username": "weak", "password": "123"}, format="json"
    )
    assert response.status_code == 400 and "password" in response.json()


def test_me_shows_the_signed_in_user_with_memberships(world):
    body = world.client("owner_a").get(reverse("api:user-me")).json()
    assert body["username"] == "owner_a"
    assert body["memberships"] == [{"factory": "alpha-plant", "role": "business_owner"}]
    assert body["is_coe_staff"] is False


def test_page_size_is_capped_at_1000(world):
    for i in range(3):
        FactoryFactory(slug=f"extra-{i}")
    body = world.client("staff").get(reverse("api:factory-list"), {"page_size": 2}).json()
    assert body["count"] == 5 and len(body["results"]) == 2 and body["next"]


def test_unknown_api_url_is_a_json_404(world):
    response = world.client("staff").get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_change_log_records_an_api_update_with_its_actor(world):
    url = reverse("api:factory-detail", args=["alpha-plant"])
    response = world.client("staff").patch(url, {"site": "Zwickau"}, format="json")
    assert response.status_code == 200
    entry = LogEntry.objects.get_for_object(world.factory_a).filter(action=1).latest("timestamp")
    assert entry.actor == world.users["staff"]
    assert entry.changes_dict["site"] == ["None", "Zwickau"] or entry.changes_dict["site"][1] == (
        "Zwickau"
    )
    listed = (
        world.client("staff")
        .get(
            reverse("api:logentry-list"),
            {"model": "coe.factory", "object_pk": world.factory_a.pk, "action": "update"},
        )
        .json()["results"]
    )
    assert listed[0]["actor"] == "staff" and listed[0]["changes"]["site"][1] == "Zwickau"


def test_object_history_is_readable_by_whoever_sees_the_object(world):
    world.client("staff").patch(
        reverse("api:factory-detail", args=["alpha-plant"]), {"region": "EMEA"}, format="json"
    )
    history_url = reverse("api:factory-history", args=["alpha-plant"])
    rows = world.client("member_a").get(history_url).json()["results"]
    assert any(r["changes"].get("region", [None, None])[1] == "EMEA" for r in rows)
    assert world.client("member_b").get(history_url).status_code == 404


def test_change_log_records_an_admin_update(world, client):
    client.force_login(world.users["staff"])
    world.users["staff"].is_staff = True
    world.users["staff"].is_superuser = True
    world.users["staff"].save()
    factory = world.factory_b
    url = reverse("admin:coe_factory_change", args=[factory.pk])
    form = {
        "slug": factory.slug,
        "name": "Beta App Renamed",
        "kind": factory.kind,
        "business_unit": factory.business_unit,
        "site": "",
        "region": "",
        "description": "",
        "currency": "EUR",
        "audit_cadence_months": 6,
        "network_allowlist": "[]",
        "memberships-TOTAL_FORMS": 0,
        "memberships-INITIAL_FORMS": 0,
        "memberships-MIN_NUM_FORMS": 0,
        "memberships-MAX_NUM_FORMS": 1000,
    }
    response = client.post(url, form)
    assert response.status_code == 302, response.content[:2000]
    entry = (
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Factory), object_pk=str(factory.pk)
        )
        .filter(action=1)
        .latest("timestamp")
    )
    assert entry.actor == world.users["staff"]
    assert entry.changes_dict["name"][1] == "Beta App Renamed"
    assert entry.changes_dict["audit_cadence_months"][1] == "6"


@pytest.mark.parametrize("persona", ["owner_a", "member_a"])
def test_factory_roles_cannot_edit_their_factory(world, persona):
    response = world.client(persona).patch(
        reverse("api:factory-detail", args=["alpha-plant"]), {"name": "Mine now"}, format="json"
    )
    assert response.status_code == 403
    assert "CoE staff" in response.json()["detail"]


def test_schema_and_docs_are_served_locally(world, client):
    client.force_login(world.users["member_a"])
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/factories/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"https://" not in docs.content.split(b"<body")[0].replace(b"https://www.w3", b"")
