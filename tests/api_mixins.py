"""Generic API tests, one class per endpoint (the way NetBox's ``APIViewTestCases`` work).

A test class names its router ``basename``, makes one object in factory A and one in
factory B, and gives create/update payloads. The mixin then checks, for every persona,
list (which rows), retrieve (200 or 404), create, update and delete (allowed, 403 for a
signed-in user who may see the row, 404 for one who may not — whether the row exists or
not —, 405 for a method the endpoint does not offer, 401 for anonymous), and
pins the number of queries of a list. ``tests/test_api_coverage.py`` fails when a
registered viewset has no such class.

Defaults fit a factory-scoped model that only CoE staff change; a class overrides
``visible`` (which objects each persona sees), ``writers`` (who may write) or the
``read_only``/``list_forbidden`` flags for other rules.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from django.urls import reverse

from tests.conftest import PERSONAS, SIGNED_IN, World

EVERYONE = {p: {"a", "b"} for p in SIGNED_IN}
FACTORY_SCOPED = {"staff": {"a", "b"}, "owner_a": {"a"}, "member_a": {"a"}, "member_b": {"b"}}


class APIViewTestCase:
    basename: ClassVar[str]
    viewset: ClassVar[type]
    lookup_field: ClassVar[str] = "pk"
    visible: ClassVar[dict[str, set[str]]] = FACTORY_SCOPED
    writers: ClassVar[set[str]] = {"staff"}
    read_only: ClassVar[bool] = False
    # Personas for whom the whole endpoint is forbidden: its list is a 403, its objects
    # are not there for them (404).
    list_forbidden: ClassVar[set[str]] = set()
    # Personas allowed to create somewhere, but not seeing the payload's factory (A): they
    # are told it does not exist (400), as for an unknown slug.
    create_factory_unknown_to: ClassVar[set[str]] = set()
    # Queries a list of many rows may take, whatever its length.
    max_list_queries: ClassVar[int] = 8
    # Field of an object whose value shows in the list (to tell which rows came back).
    identity_field: ClassVar[str] = "id"

    # --- what a test class provides ---------------------------------------------------
    def make_object(self, world: World, key: str) -> Any:
        """An object belonging to factory ``key`` ("a" or "b")."""
        raise AssertionError(f"{type(self).__name__} must define make_object")

    def create_payload(self, world: World) -> dict:
        """A valid create payload (for factory A)."""
        raise AssertionError(f"{type(self).__name__} must define create_payload")

    def update_payload(self, world: World, obj: Any) -> dict:
        """A valid partial update of ``obj``."""
        raise AssertionError(f"{type(self).__name__} must define update_payload")

    def make_many(self, world: World, count: int) -> None:
        """``count`` more objects for the query-count test (default: make_object in turn)."""
        for i in range(count):
            self.make_object(world, "ab"[i % 2])

    # --- helpers ---------------------------------------------------------------------------
    def list_url(self) -> str:
        return reverse(f"api:{self.basename}-list")

    def detail_url(self, obj: Any) -> str:
        return reverse(f"api:{self.basename}-detail", args=[getattr(obj, self.lookup_field)])

    def identity(self, obj: Any) -> Any:
        return getattr(obj, self.identity_field)

    def objects(self, world: World) -> dict[str, Any]:
        return {"a": self.make_object(world, "a"), "b": self.make_object(world, "b")}

    # --- the generic tests --------------------------------------------------------------
    @pytest.mark.parametrize("persona", PERSONAS)
    def test_list_shows_only_rows_the_persona_may_see(self, world, persona):
        objs = self.objects(world)
        response = world.client(persona).get(self.list_url(), {"page_size": 1000})
        if persona == "anonymous":
            assert response.status_code == 401, response.content
            return
        if persona in self.list_forbidden:
            assert response.status_code == 403, response.content
            return
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) >= {"count", "next", "previous", "results"}
        seen = {row[self.identity_field] for row in body["results"]}
        for key, obj in objs.items():
            expected = key in self.visible.get(persona, set())
            assert (self.identity(obj) in seen) is expected, (persona, key, seen)

    @pytest.mark.parametrize("persona", PERSONAS)
    def test_retrieve_is_404_outside_the_persona_factories(self, world, persona):
        objs = self.objects(world)
        for key, obj in objs.items():
            response = world.client(persona).get(self.detail_url(obj))
            if persona == "anonymous":
                assert response.status_code == 401
            elif key in self.visible.get(persona, set()):
                assert response.status_code == 200, (persona, key, response.content)
                assert response.json()[self.identity_field] == self.identity(obj)
            else:
                assert response.status_code == 404, (persona, key, response.content)

    def expected_write_status(self, persona: str, key: str, success: int) -> int:
        if persona == "anonymous":
            return 401
        if key not in self.visible.get(persona, set()):
            return 404
        if self.read_only:
            return 405
        return success if persona in self.writers else 403

    @pytest.mark.parametrize("persona", PERSONAS)
    def test_create_is_allowed_only_to_writers(self, world, persona):
        payload = self.create_payload(world)
        response = world.client(persona).post(self.list_url(), payload, format="json")
        if persona == "anonymous":
            expected = 401
        elif self.read_only:
            expected = 405  # no route offers it, to anyone
        elif persona in self.list_forbidden:
            expected = 403
        elif persona in self.create_factory_unknown_to:
            expected = 400
        else:
            expected = 201 if persona in self.writers else 403
        assert response.status_code == expected, (persona, response.content)
        if expected == 400:
            assert "does not exist" in response.json()["factory"][0]

    @pytest.mark.parametrize("persona", PERSONAS)
    def test_update_is_allowed_only_to_writers(self, world, persona):
        obj = self.objects(world)["a"]
        payload = self.update_payload(world, obj)
        response = world.client(persona).patch(self.detail_url(obj), payload, format="json")
        expected = self.expected_write_status(persona, "a", 200)
        assert response.status_code == expected, (persona, response.content)
        if expected == 200:
            for field_name, value in payload.items():
                if field_name not in getattr(self, "write_only_fields", ()):
                    assert response.json()[field_name] == value, field_name

    @pytest.mark.parametrize("persona", PERSONAS)
    def test_delete_is_allowed_only_to_writers(self, world, persona):
        obj = self.objects(world)["a"]
        model = type(obj)
        response = world.client(persona).delete(self.detail_url(obj))
        expected = self.expected_write_status(persona, "a", 204)
        assert response.status_code == expected, (persona, response.content)
        assert model.objects.filter(pk=obj.pk).exists() is (expected != 204)

    def test_list_takes_a_constant_number_of_queries(self, world, django_assert_max_num_queries):
        self.make_many(world, 30)
        client = world.client("staff")
        client.get(self.list_url())  # warm caches that are not per request
        with django_assert_max_num_queries(self.max_list_queries):
            response = client.get(self.list_url(), {"page_size": 100})
        assert response.status_code == 200
        assert response.json()["count"] >= 30
