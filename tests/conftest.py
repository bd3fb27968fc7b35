"""Personas shared by every test: CoE staff, business owner of A, member of A, member of B,
anonymous — and API clients that authenticate as them with real tokens."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from coe.choices import FactoryKind, Role
from coe.models import Factory
from coe.services import user_set_coe_staff
from tests.factories import FactoryFactory, MembershipFactory, UserFactory

PERSONAS = ["staff", "owner_a", "member_a", "member_b", "anonymous"]
SIGNED_IN = ["staff", "owner_a", "member_a", "member_b"]


@dataclass
class World:
    """Two factories and one user per persona."""

    factory_a: Factory
    factory_b: Factory
    users: dict = field(default_factory=dict)

    def client(self, persona: str) -> APIClient:
        client = APIClient()
        user = self.users.get(persona)
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    def factory_of(self, key: str) -> Factory:
        return {"a": self.factory_a, "b": self.factory_b}[key]


@pytest.fixture
def world(db) -> World:
    factory_a = FactoryFactory(
        slug="alpha-plant",
        name="Alpha Plant",
        kind=FactoryKind.MANUFACTURING,
        business_unit="Automotive",
    )
    factory_b = FactoryFactory(
        slug="beta-app", name="Beta App", kind=FactoryKind.SOFTWARE, business_unit="Digital"
    )
    staff = UserFactory(username="staff")
    user_set_coe_staff(user=staff, is_staff=True)
    owner_a = MembershipFactory(
        user=UserFactory(username="owner_a"), factory=factory_a, role=Role.BUSINESS_OWNER
    ).user
    member_a = MembershipFactory(user=UserFactory(username="member_a"), factory=factory_a).user
    member_b = MembershipFactory(user=UserFactory(username="member_b"), factory=factory_b).user
    return World(
        factory_a=factory_a,
        factory_b=factory_b,
        users={"staff": staff, "owner_a": owner_a, "member_a": member_a, "member_b": member_b},
    )


@pytest.fixture(autouse=True)
def _celery_inline_unless_real_worker(request):
    """Tasks run inline, except in tests marked ``broker`` that start a real worker."""
    from coe.celery import app

    eager = request.node.get_closest_marker("broker") is None
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = eager or previous
    yield
    app.conf.task_always_eager = previous
