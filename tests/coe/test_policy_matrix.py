"""The permission matrix, generated from the URL resolver and checked over HTTP.

Every API route (each viewset action — list, retrieve, create, update, delete, each
@action and method — and each plain API view) and every page is requested as each
persona: anonymous, a member of factory A, a business owner of A, the business owner of
factory B only, and CoE staff. The expected answer comes from the table the code reads
(``coe/policy_matrix.py``): the rule of the route and action, and who that rule lets
through. Then every factory filter of every filterset is given the other factory's slug
(or id): a non-staff persona gets an empty list. A route without a row fails here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from assessments import answers as assessment_answers
from assessments import services as assessment_services
from coe import policy
from coe.choices import Role
from coe.models import Factory
from coe.policy_matrix import (
    API,
    OPEN_ROUTES,
    PAGES,
    PERSONAS,
    ROLE_MATRIX,
    SERVICE_DECIDED,
    rule_for,
)
from coe.urls import api_router
from connectors.facts import CurrencyRate
from registry.models import Process, ProcessVersion
from tests.assessments.helpers import answer_all
from tests.factories import MembershipFactory, UserFactory
from tests.registry.builders import adoption, tool
from tests.test_api_coverage import _all_test_classes
from tests.tool_requests.request_helpers import make_request

pytestmark = pytest.mark.django_db

USER_OF = {"member": "member_a", "owner": "owner_a", "other_owner": "owner_b", "staff": "staff"}
GENERIC = {c.basename: c for c in _all_test_classes() if hasattr(c, "basename")}
VIEWSETS = {basename: viewset for _prefix, viewset, basename in api_router.registry}

# Bodies of @actions that would otherwise reach the network or do slow work: invalid on
# purpose, so whoever passes the rule gets a 400 and nothing runs.
ACTION_BODIES = {("connector", "sync"): {"full_sync": "not-a-boolean"}}
CRUD = [
    ("list", "get", False, "list"),
    ("create", "post", False, "create"),
    ("retrieve", "get", True, "retrieve"),
    ("update", "patch", True, "partial_update"),
    ("destroy", "delete", True, "destroy"),
]
# @actions that queue work and answer 202 with a job to poll.
ACCEPTED = {("duplicate", "detect")}
SUCCESS = {"list": 200, "retrieve": 200, "create": 201, "update": 200, "destroy": 204}


@dataclass(frozen=True)
class Case:
    """One route and action: a viewset action (``basename``) or a plain view (URL name)."""

    key: str
    action: str
    method: str
    detail: bool
    url_name: str

    def __str__(self) -> str:
        return f"{self.key}.{self.action}:{self.method}"


def _api_cases() -> list[Case]:
    cases = []
    for basename, viewset in VIEWSETS.items():
        for action, method, detail, attr in CRUD:
            if hasattr(viewset, attr):
                suffix = "detail" if detail else "list"
                cases.append(Case(basename, action, method, detail, f"{basename}-{suffix}"))
        for extra in viewset.get_extra_actions():
            for method in extra.mapping:
                name = f"{basename}-{extra.url_name}"
                cases.append(Case(basename, extra.__name__, method, extra.detail, name))
    for name, methods in _plain_api_routes().items():
        for method in methods:
            detail = name.startswith(("factory-", "assessment-report-"))
            cases.append(Case(name, method, method, detail, name))
    # A notification belongs to one user, not to a factory: the generic factory-A object
    # does not stand for it (tests/notify/test_api.py covers who reads whose inbox).
    return [c for c in cases if not (c.key == "notification" and c.detail)]


def _walk(patterns, namespace: str = "") -> list[tuple[str, URLPattern]]:
    found = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found += _walk(pattern.url_patterns, pattern.namespace or namespace)
        elif pattern.name:
            found.append((namespace, pattern))
    return found


def _plain_api_routes() -> dict[str, list[str]]:
    """Plain API views (not the router's) by URL name, with the methods they answer."""
    router_names = {url.name for url in api_router.urls if isinstance(url, URLPattern) and url.name}
    routes: dict[str, list[str]] = {}
    for namespace, pattern in _walk(get_resolver().url_patterns):
        if namespace != "api" or pattern.name in router_names or pattern.name in OPEN_ROUTES:
            continue
        view = getattr(pattern.callback, "view_class", None)
        methods = [m for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)]
        routes[pattern.name] = methods
    return routes


def _page_routes() -> dict[str, URLPattern]:
    return {
        pattern.name: pattern
        for namespace, pattern in _walk(get_resolver().url_patterns)
        if not namespace and pattern.name not in OPEN_ROUTES
    }


API_CASES = _api_cases()


# --- the table covers every route ---------------------------------------------------------


def test_every_api_route_and_action_has_a_row():
    missing = [str(c) for c in API_CASES if not rule_for(API, c.key, c.action, c.method)]
    assert not missing, f"API routes without a rule in coe/policy_matrix.API: {missing}"


def test_every_page_has_a_row():
    missing = sorted(set(_page_routes()) - set(PAGES))
    assert not missing, f"pages without a rule in coe/policy_matrix.PAGES: {missing}"
    stale = sorted(set(PAGES) - set(_page_routes()))
    assert not stale, f"rows of PAGES without a page: {stale}"


def test_every_rule_named_by_a_route_exists_and_has_a_row_in_the_role_matrix():
    named = {r for route in (*API.values(), *PAGES.values()) for r in _rules_of(route)}
    assert named <= set(policy.RULES), sorted(named - set(policy.RULES))
    assert set(policy.RULES) == set(ROLE_MATRIX), set(policy.RULES) ^ set(ROLE_MATRIX)


def _rules_of(route: dict) -> set[str]:
    out = set()
    for entry in route.values():
        out |= set(entry.values()) if isinstance(entry, dict) else {entry}
    return out


def test_the_permissions_doc_is_current():
    from django.conf import settings

    from coe.policy_doc import render

    current = (settings.BASE_DIR / "docs" / "permissions.md").read_text()
    assert current == render(), "docs/permissions.md is stale: run manage.py permissions_doc"


# --- the world ------------------------------------------------------------------------------


@pytest.fixture
def mworld(world):
    """The shared personas plus the business owner of factory B."""
    owner_b = MembershipFactory(
        user=UserFactory(username="owner_b"), factory=world.factory_b, role=Role.BUSINESS_OWNER
    ).user
    world.users["owner_b"] = owner_b
    return world


def api_client(world, persona: str):
    return world.client(USER_OF.get(persona, "anonymous"))


def page_client(world, persona: str) -> Client:
    client = Client()
    if persona != "anonymous":
        client.force_login(world.users[USER_OF[persona]])
    return client


def expected(persona: str, rule: str, *, on_object: bool, visible_rule: str | None) -> str:
    """``anon``, ``hidden`` (404), ``denied`` (403) or ``allowed``, from the role matrix."""
    if persona == "anonymous":
        return "anon"
    if on_object:
        if persona not in ROLE_MATRIX[visible_rule].on_object:
            return "hidden"
        return "allowed" if persona in ROLE_MATRIX[rule].on_object else "denied"
    return "allowed" if persona in ROLE_MATRIX[rule].without_object else "denied"


def locked_attempt():
    """A username and address locked out after repeated failed sign-ins."""
    from axes.models import AccessAttempt
    from django.conf import settings

    return AccessAttempt.objects.create(
        username="someone",
        ip_address="192.0.2.7",
        user_agent="test",
        path_info="/login/",
        failures_since_start=settings.AXES_FAILURE_LIMIT,
        get_data="",
        post_data="",
        http_accept="",
    )


def final_assessment(world):
    """A final assessment of factory A (its report, scorecard and correction exist)."""
    assessment = assessment_services.assessment_create(factory=world.factory_a)
    answer_all(assessment)
    assessment_services.assessment_finalize(assessment=assessment, user=world.users["staff"])
    return assessment


# --- API ------------------------------------------------------------------------------------


def _api_target(world, case: Case) -> tuple[str, Any]:
    """Make the case's object (of factory A) if it needs one; (URL, request body)."""
    generic = GENERIC.get(case.key)
    kwargs: dict = {}
    body: Any = {}
    if generic is not None:
        test = generic()
        # A create starts from nothing (an object of A could stand in its way).
        obj = None if case.action == "create" else test.make_object(world, "a")
        if case.detail:
            kwargs = {test.lookup_field: getattr(obj, test.lookup_field)}
        if case.action == "create":
            body = test.create_payload(world)
        elif case.action == "update":
            body = test.update_payload(world, obj)
        else:
            body = ACTION_BODIES.get((case.key, case.action), {})
    elif case.key.startswith("assessment-report-"):  # assessments/{pk}/report.pdf|xlsx
        kwargs = {"pk": final_assessment(world).pk}
    elif case.key == "lockout-detail":
        kwargs = {"pk": locked_attempt().pk}
    elif case.detail:  # factories/{slug}/scorecard|kpis|roi|flow/
        if case.key == "factory-scorecard":
            final_assessment(world)
        kwargs = {"slug": world.factory_a.slug}
    elif case.key.startswith("ingest-"):
        body = []
    return reverse(f"api:{case.url_name}", kwargs=kwargs), body


def as_each_persona(send) -> dict[str, Any]:
    """``send(persona)`` for every persona, each undone afterwards (a savepoint rolled
    back), so that one persona's write does not change what the next one meets."""
    responses = {}
    for persona in PERSONAS:
        with transaction.atomic():
            responses[persona] = send(persona)
            transaction.set_rollback(True)
    return responses


def _visible_rule(case: Case) -> str | None:
    if not case.detail or case.key == "lockout-detail":  # lockouts belong to no factory
        return None
    if case.key in VIEWSETS:
        return rule_for(API, case.key, "retrieve", "get")
    return "coe.view_factory"


@pytest.mark.parametrize("case", API_CASES, ids=str)
def test_api_route_answers_each_persona_as_the_matrix_says(mworld, case):
    rule = rule_for(API, case.key, case.action, case.method)
    url, body = _api_target(mworld, case)
    responses = as_each_persona(
        lambda persona: getattr(api_client(mworld, persona), case.method)(url, body, format="json")
    )
    wrong = []
    for persona, response in responses.items():
        outcome = expected(persona, rule, on_object=case.detail, visible_rule=_visible_rule(case))
        # Created in factory A: the rule is asked again with A once the payload is valid;
        # a persona who does not see A is told A does not exist, like an unknown slug.
        creates_in_a = case.action == "create" and isinstance(body, dict)
        creates_in_a = creates_in_a and body.get("factory") == mworld.factory_a.slug
        if outcome == "allowed" and creates_in_a and persona not in ROLE_MATRIX[rule].on_object:
            sees_a = persona in ROLE_MATRIX["coe.view_factory"].on_object
            outcome = "denied" if sees_a else "unknown"
        if not _answers(case, outcome, response):
            wrong.append((persona, outcome, response.status_code, response.content[:200]))
    assert not wrong, (str(case), rule, wrong)


def _answers(case: Case, outcome: str, response) -> bool:
    """Whether ``response`` is the answer ``outcome`` calls for."""
    status = response.status_code
    if outcome == "anon":
        return status == 401
    if outcome == "hidden":
        return status == 404
    if outcome == "denied":
        return status == 403
    if outcome == "unknown":
        return status == 400 and "does not exist" in response.content.decode()
    if case.key in VIEWSETS and case.action in SUCCESS:
        return status == SUCCESS[case.action]
    if (case.key, case.action) in SERVICE_DECIDED:  # the step's rule is the service's
        return status not in (401, 404)
    # An @action or upload given an empty body: past the rule, the input is judged.
    if status in (401, 403, 404):
        return False
    if (case.key, case.action) in ACCEPTED:  # queued work answers 202 with a job
        return status == 202 if case.method == "post" else status == 200
    return status == 200 if case.key == "factory-scorecard" or status < 300 else True


def test_object_actions_outside_the_scope_are_404_whether_the_id_exists_or_not(mworld):
    """A member of B acting on A's finding and on a finding that does not exist: the same."""
    finding = GENERIC["duplicate"]().make_object(mworld, "a")
    client = api_client(mworld, "other_owner")
    for pk in (finding.pk, finding.pk + 1000):
        for name in ("acknowledge", "resolve", "waive", "reopen", "consolidate"):
            response = client.post(reverse(f"api:duplicate-{name}", args=[pk]), {})
            assert response.status_code == 404, (pk, name, response.content)


# --- pages ----------------------------------------------------------------------------------

# Which object a page's URL names, and the rule that decides whether it is visible.
PAGE_OBJECTS: dict[str, tuple[str, str]] = {
    "factory-detail": ("factory", "coe.view_factory"),
    "scorecard": ("factory", "coe.view_factory"),
    "factory-kpis-csv": ("factory", "coe.view_factory"),
    "factory-roi-csv": ("factory", "coe.view_factory"),
    "assessment-detail": ("assessment", "assessments.view_assessment"),
    "assessment-report": ("final-assessment", "assessments.view_assessment"),
    "assessment-correct": ("final-assessment", "assessments.view_assessment"),
    "evidence-file": ("evidence", "assessments.view_assessment"),
    "tool-detail": ("tool", "registry.view_tool"),
    "tool-set-ring": ("tool", "registry.view_tool"),
    "tool-merge": ("tool", "registry.view_tool"),
    "duplicate-action": ("duplicate", "registry.view_finding"),
    "duplicate-plan": ("duplicate", "registry.view_finding"),
    "request-detail": ("tool-request", "tool_requests.view_request"),
    "request-comment": ("tool-request", "tool_requests.view_request"),
    "request-action": ("tool-request", "tool_requests.view_request"),
    "connector-detail": ("connector", "connectors.view_connector"),
    "connector-sync": ("connector", "connectors.view_connector"),
    "sync-run-status": ("sync-run", "connectors.view_syncrun"),
    "device-detail": ("device", "connectors.view_device"),
    "factory-edit": ("factory", "coe.view_factory"),
    "factory-delete": ("factory", "coe.view_factory"),
    "membership-add": ("factory", "coe.view_factory"),
    "membership-remove": ("membership", "coe.view_factory"),
    "tool-edit": ("tool", "registry.view_tool"),
    "capability-edit": ("capability", "registry.view_capability"),
    "process-edit": ("process", "registry.view_process"),
    "process-version-create": ("process", "registry.view_process"),
    "connector-edit": ("connector", "connectors.view_connector"),
    "connector-delete": ("connector", "connectors.view_connector"),
    "tool-delete": ("tool", "registry.view_tool"),
    "capability-delete": ("capability", "registry.view_capability"),
    "process-delete": ("process", "registry.view_process"),
}
PAGE_EXTRA_KWARGS = {
    "duplicate-action": {"action": "acknowledge"},
    "request-action": {"action": "submit"},
    "registry-export": {"what": "adoptions", "fmt": "csv"},
}
PAGE_POST_DATA = {"assessment-list": {"factory": "alpha-plant"}}
PAGE_CASES = [(name, method) for name in sorted(PAGES) for method in sorted(PAGES[name])]


def _page_kwargs(world, name: str) -> dict:
    kwargs = dict(PAGE_EXTRA_KWARGS.get(name, {}))
    kind = PAGE_OBJECTS.get(name, (None, None))[0]
    if kind == "factory":
        kwargs["slug"] = world.factory_a.slug
    elif kind == "final-assessment":
        kwargs["pk"] = final_assessment(world).pk
    elif kind == "evidence":
        assessment = assessment_services.assessment_create(factory=world.factory_a)
        answer_all(assessment)
        criterion = assessment.model.criteria_for(world.factory_a.kind)[0][1]["key"]
        stored = assessment_answers.evidence_file_add(
            assessment=assessment,
            criterion=criterion,
            upload=SimpleUploadedFile("note.txt", b"seen on site", content_type="text/plain"),
            user=world.users["staff"],
        )
        kwargs["pk"] = stored.pk
    elif name == "lockout-unlock":
        kwargs["pk"] = locked_attempt().pk
    elif name in ("currency-rate-edit", "currency-rate-delete"):
        kwargs["pk"] = CurrencyRate.objects.create(
            from_currency="USD", to_currency="EUR", rate="0.9"
        ).pk
    elif name == "user-reinvite":
        kwargs["pk"] = world.users["member_b"].pk
    elif name.startswith("process-version-") and name != "process-version-create":
        process = GENERIC["process"]().make_object(world, "a")
        version = ProcessVersion.objects.create(process=process, version="2", steps="x")
        kwargs.update(slug=process.slug, version=version.version)
    elif kind == "membership":  # the factory's slug and one of its memberships
        kwargs["slug"] = world.factory_a.slug
        kwargs["pk"] = world.factory_a.memberships.order_by("pk").first().pk
    elif kind is not None:
        test = GENERIC[kind]()
        obj = test.make_object(world, "a")
        kwargs[test.lookup_field] = getattr(obj, test.lookup_field)
    return kwargs


@pytest.mark.parametrize("name,method", PAGE_CASES, ids=lambda v: str(v))
def test_page_answers_each_persona_as_the_matrix_says(mworld, name, method):
    rule = PAGES[name][method]
    kind, visible_rule = PAGE_OBJECTS.get(name, (None, None))
    url = reverse(name, kwargs=_page_kwargs(mworld, name))
    data = PAGE_POST_DATA.get(name, {}) if method == "post" else {}
    responses = as_each_persona(
        lambda persona: getattr(page_client(mworld, persona), method)(url, data)
    )
    wrong = []
    for persona, response in responses.items():
        outcome = expected(persona, rule, on_object=kind is not None, visible_rule=visible_rule)
        status = response.status_code
        if outcome == "anon":
            right = status == 302 and response["Location"].startswith("/login/")
        elif outcome == "hidden":
            right = status == 404
        elif outcome == "denied":
            right = status == 403
        elif method == "get":
            right = status == 200
        elif (name, method) in SERVICE_DECIDED:
            right = status not in (401, 404)
        else:  # a form sent empty: past the rule, the page judges the input
            right = status not in (401, 403, 404)
        if not right:
            wrong.append((persona, outcome, status))
    assert not wrong, (name, method, rule, wrong)


# --- filters --------------------------------------------------------------------------------


def _factory_filters(filterset_class) -> list[tuple[str, str]]:
    """``(parameter, "slug" | "pk")`` of every filter whose value names a factory (a path
    through a relation to ``Factory`` ending at the factory, its slug or its id)."""
    model = filterset_class._meta.model
    found = []
    for name, filt in filterset_class.base_filters.items():
        rest = _factory_reference(model, filt.field_name)
        if rest is None:
            continue
        by = getattr(filt, "extra", {}).get("to_field_name") or rest or "pk"
        found.append((name, "slug" if by == "slug" else "pk"))
    return found


def _factory_reference(model, path: str) -> str | None:
    """What a lookup path names of a related factory ("", "slug", "id", "pk"), or
    ``None`` when it does not end at a related factory."""
    parts = path.split("__")
    for i, part in enumerate(parts):
        try:
            field = model._meta.get_field(part)
        except Exception:
            return None
        if not (field.is_relation and field.related_model is not None):
            return None
        model = field.related_model
        if model is Factory:
            rest = "__".join(parts[i + 1 :])
            if part.endswith("_id") and field.attname == part:
                rest = "pk"
            return rest if rest in ("", "slug", "id", "pk") else None
    return None


FILTER_ROUTES = [
    basename
    for basename, viewset in VIEWSETS.items()
    if getattr(viewset, "filterset_class", None) and _factory_filters(viewset.filterset_class)
]


def _seed(world, basename: str) -> None:
    """Rows of the route in both factories, linked so that a factory filter would match."""
    test = GENERIC[basename]()
    test.make_object(world, "a")
    test.make_object(world, "b")
    if basename in ("tool", "process"):
        # Tools and processes are global: adopted by B, a filter on B would find them.
        adoption(world.factory_b, tool("Seed tool"), name="Seed tool")
        process = Process.objects.create(
            name="Seed process", slug="seed-process", owner_factory=world.factory_b
        )
        version = ProcessVersion.objects.create(process=process, version="1", steps="x")
        version.adoptions.create(factory=world.factory_b)
    if basename == "tool-request":
        make_request(world, key="b", who="owner_b")


@pytest.mark.parametrize("basename", FILTER_ROUTES)
def test_every_factory_filter_given_another_factory_gives_non_staff_an_empty_list(mworld, basename):
    _seed(mworld, basename)
    filters = _factory_filters(VIEWSETS[basename].filterset_class)
    url = reverse(f"api:{basename}-list")
    own = {"member": "a", "owner": "a", "other_owner": "b"}
    for param, by in filters:
        for persona, mine in own.items():
            other = mworld.factory_of("b" if mine == "a" else "a")
            value = other.slug if by == "slug" else other.pk
            response = api_client(mworld, persona).get(url, {param: value})
            assert response.status_code == 200, (basename, param, persona, response.content)
            assert response.json()["count"] == 0, (basename, param, persona, response.json())
        # The filter is not vacuous: CoE staff find factory B's rows with it.
        value = mworld.factory_b.slug if by == "slug" else mworld.factory_b.pk
        response = api_client(mworld, "staff").get(url, {param: value})
        assert response.json()["count"] >= 1, (basename, param, "staff", response.json())


def test_the_registry_page_filter_is_scoped(mworld):
    _seed(mworld, "tool")
    client = page_client(mworld, "member")
    body = client.get(reverse("tool-list"), {"factory": mworld.factory_b.slug}).content.decode()
    assert "Seed tool" not in body
    body = page_client(mworld, "staff").get(reverse("tool-list"), {"factory": "beta-app"})
    assert "Seed tool" in body.content.decode()


# --- the rules themselves -------------------------------------------------------------------


def _rule_object(world, rule: str):
    if rule.startswith("tool_requests."):
        return make_request(world)  # a draft of factory A raised by the member
    if rule in ("coe.view_user", "coe.manage_user"):
        return world.users["member_a"]
    return world.factory_a


def test_each_rule_lets_through_exactly_who_the_role_matrix_says(mworld):
    from django.contrib.auth.models import AnonymousUser

    users = {p: mworld.users[u] for p, u in USER_OF.items()} | {"anonymous": AnonymousUser()}
    wrong = []
    for rule, access in ROLE_MATRIX.items():
        obj = _rule_object(mworld, rule)
        for persona, user in users.items():
            for target, want in ((obj, access.on_object), (None, access.without_object)):
                if policy.allowed(user, rule, target) != (persona in want):
                    wrong.append((rule, persona, "object" if target is not None else "none"))
    assert not wrong, wrong


def test_options_describe_only_the_writes_the_caller_may_make(mworld):
    url = reverse("api:tool-list")
    member = api_client(mworld, "member").options(url)
    staff = api_client(mworld, "staff").options(url)
    assert member.status_code == staff.status_code == 200
    assert "POST" not in member.json().get("actions", {})
    assert "POST" in staff.json()["actions"]
