"""The admin asks the same rules: CoE staff (group members, not Django's staff flag) use
it; factory roles do not; each model's change permission is the policy's rule."""

import pytest
from django.urls import reverse

from coe import policy
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_coe_staff_use_the_admin_and_factory_roles_do_not(client, world):
    client.force_login(world.users["staff"])
    assert client.get(reverse("admin:registry_tool_changelist")).status_code == 200
    assert (
        client.get(reverse("admin:coe_factory_change", args=[world.factory_a.pk])).status_code
        == 200
    )
    for persona in ("owner_a", "member_a"):
        client.force_login(world.users[persona])
        response = client.get(reverse("admin:registry_tool_changelist"))
        assert response.status_code == 302 and "/admin/login/" in response["Location"], persona


def test_a_django_staff_flag_alone_does_not_open_the_admin(client, world):
    user = UserFactory(username="flagged", is_staff=True)
    client.force_login(user)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_every_admin_model_permission_is_a_policy_rule(world):
    from django.contrib import admin

    for model in admin.site._registry:
        meta = model._meta
        for verb in ("add", "change", "delete", "view"):
            name = f"{meta.app_label}.{verb}_{meta.model_name}"
            assert world.users["staff"].has_perm(name), name
            assert not policy.allowed(world.users["member_a"], name) or verb == "view", name


def test_permission_checks_never_read_django_permission_tables(client, world):
    """Every has_perm is the policy's: the sign-in backends answer none, so a page's
    {% has_perm %} reads no user or group permission rows."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for persona in ("member_a", "owner_a", "staff"):
        client.force_login(world.users[persona])
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("factory-list")).status_code == 200
            assert client.get(reverse("tool-list")).status_code == 200
        read = " ".join(q["sql"] for q in queries.captured_queries)
        assert "auth_permission" not in read, persona
    assert world.users["staff"].has_perm("registry.change_tool")  # the policy's answer
    assert not world.users["member_a"].has_perm("registry.change_tool")
