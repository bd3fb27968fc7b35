"""The permission table: which rule of ``coe/policy.py`` guards each route, and who each
rule lets through.

The code reads it (``coe.api.permissions.PolicyPermission`` for the API,
``coe.policy.page_rule`` for the pages); ``manage.py permissions_doc`` renders it as
``docs/permissions.md``; ``tests/coe/test_policy_matrix.py`` walks every route of the URL
resolver against it for every persona. A route without a row fails that test; at run
time it is CoE staff's only.

Personas: ``member`` (a member of factory A), ``owner`` (a business owner of factory A),
``other_owner`` (a business owner of factory B only), ``staff`` (CoE staff) and
``anonymous``. "On an object" means an object of factory A (for tool requests: one raised
by the member); "without an object" is the check before any object exists (a list, a
create, an upload: may the persona do this in *some* factory?).
"""

from __future__ import annotations

from dataclasses import dataclass

PERSONAS = ("anonymous", "member", "owner", "other_owner", "staff")
SIGNED_IN = frozenset({"member", "owner", "other_owner", "staff"})


@dataclass(frozen=True)
class Access:
    """Who may take an action: on factory A's object, and without an object."""

    on_object: frozenset[str]
    without_object: frozenset[str]


def _access(on_object: set[str], without_object: set[str] | None = None) -> Access:
    return Access(
        frozenset(on_object),
        frozenset(on_object if without_object is None else without_object),
    )


EVERYONE = _access(set(SIGNED_IN))
VIEWERS = _access({"member", "owner", "staff"}, set(SIGNED_IN))
MEMBERS = _access({"member", "owner", "staff"}, set(SIGNED_IN))
OWNERS = _access({"owner", "staff"}, {"owner", "other_owner", "staff"})
STAFF = _access({"staff"})

# rule → who it lets through (the role × action matrix).
ROLE_MATRIX: dict[str, Access] = {
    "coe.view_api_root": EVERYONE,
    "coe.use_admin": STAFF,
    "coe.view_factory": VIEWERS,
    "coe.add_factory": STAFF,
    "coe.change_factory": STAFF,
    "coe.delete_factory": STAFF,
    "coe.view_membership": VIEWERS,
    "coe.manage_membership": STAFF,
    # on an object: the member's own account (nobody else's but CoE staff's)
    "coe.view_user": _access({"member", "staff"}, set(SIGNED_IN)),
    "coe.manage_user": STAFF,
    "coe.view_audit_log": STAFF,
    "coe.view_cockpit": STAFF,
    "coe.view_actor_address": STAFF,
    "coe.view_health_details": STAFF,
    "coe.unlock_sign_in": STAFF,
    "registry.view_capability": EVERYONE,
    "registry.change_capability": STAFF,
    "registry.delete_capability": STAFF,
    "registry.view_tool": EVERYONE,
    "registry.change_tool": STAFF,
    "registry.delete_tool": STAFF,
    "registry.merge_tool": STAFF,
    "registry.view_process": EVERYONE,
    "registry.change_process": STAFF,
    "registry.delete_process": STAFF,
    "registry.view_processadoption": VIEWERS,
    "registry.change_processadoption": STAFF,
    "registry.view_adoption": VIEWERS,
    "registry.add_adoption": OWNERS,
    "registry.change_adoption": OWNERS,
    "registry.map_name": STAFF,
    "registry.import_registry": STAFF,
    "registry.import_adoptions": OWNERS,
    "registry.view_finding": VIEWERS,
    "registry.change_finding": STAFF,
    "registry.act_on_finding": STAFF,
    "registry.detect_duplicates": STAFF,
    "registry.view_portfolio_figures": STAFF,
    # on an object: a request raised by the member of factory A (a draft, for changes)
    "tool_requests.view_request": VIEWERS,
    "tool_requests.add_request": MEMBERS,
    "tool_requests.change_request": _access({"member", "owner", "staff"}, set(SIGNED_IN)),
    "tool_requests.submit_request": _access({"member"}, set(SIGNED_IN)),
    "tool_requests.withdraw_request": _access({"member"}, set(SIGNED_IN)),
    "tool_requests.approve_owner_step": _access({"owner"}, set()),
    "tool_requests.approve_coe_step": _access({"staff"}, set()),
    "tool_requests.provision_request": STAFF,
    "connectors.view_connector": VIEWERS,
    "connectors.change_connector": STAFF,
    "connectors.sync_connector": STAFF,
    "connectors.view_syncrun": VIEWERS,
    "connectors.view_device": VIEWERS,
    "connectors.view_metric": VIEWERS,
    "connectors.upload_data": MEMBERS,
    "connectors.view_currencyrate": STAFF,
    "connectors.change_currencyrate": STAFF,
    "assessments.view_maturitymodel": EVERYONE,
    "assessments.view_assessment": VIEWERS,
    "assessments.change_assessment": STAFF,
    "assessments.finalize_assessment": STAFF,
    "assessments.view_scorecard": VIEWERS,
    "assessments.view_kpis": VIEWERS,
    "assessments.view_portfolio": EVERYONE,
    "notify.manage_webhook": STAFF,
    "notify.view_notifications": EVERYONE,
    "coe.view_home": EVERYONE,
    "coe.search": EVERYONE,
}

# A route's rules: {action: rule} where the action is a viewset action (list, retrieve,
# create, update — partial_update included —, destroy, or an @action's name) or, for a
# plain view, the HTTP method in lower case. A rule may differ per method of one action:
# {"answers": {"get": …, "post": …}}.
RouteRules = dict[str, "str | dict[str, str]"]


def _crud(view: str, change: str, *, add: str | None = None, delete: str | None = None) -> dict:
    return {
        "list": view,
        "retrieve": view,
        "history": view,
        "create": add or change,
        "update": change,
        "destroy": delete or change,
    }


def _read(view: str) -> dict:
    return {"list": view, "retrieve": view}


# API routes, by router basename (viewsets) or URL name (plain views), under /api/.
API: dict[str, RouteRules] = {
    "api-root": {"get": "coe.view_api_root"},
    "factory": _crud(
        "coe.view_factory",
        "coe.change_factory",
        add="coe.add_factory",
        delete="coe.delete_factory",
    ),
    "membership": _crud("coe.view_membership", "coe.manage_membership"),
    "user": {**_crud("coe.view_user", "coe.manage_user"), "me": "coe.view_user"},
    "logentry": _read("coe.view_audit_log"),
    "capability": _crud("registry.view_capability", "registry.change_capability"),
    "tool": {
        **_crud("registry.view_tool", "registry.change_tool"),
        "set_ring": "registry.change_tool",
        "merge": "registry.merge_tool",
    },
    "process": {
        **_crud("registry.view_process", "registry.change_process"),
        "versions": "registry.change_process",
    },
    "process-adoption": _crud("registry.view_processadoption", "registry.change_processadoption"),
    "adoption": {
        **_crud("registry.view_adoption", "registry.change_adoption", add="registry.add_adoption"),
        "unresolved": "registry.view_adoption",
        "map_name": "registry.map_name",
    },
    "duplicate": {
        **_crud("registry.view_finding", "registry.change_finding"),
        "acknowledge": "registry.act_on_finding",
        "consolidate": "registry.act_on_finding",
        "resolve": "registry.act_on_finding",
        "reopen": "registry.act_on_finding",
        "waive": "registry.act_on_finding",
        "plan": "registry.act_on_finding",
        "detect": "registry.detect_duplicates",
    },
    # A transition is the step the request's status calls for: the route lets through
    # whoever sees the request, then the workflow service answers a wrong status (409)
    # and asks the step's rule (submit_request, withdraw_request, approve_owner_step,
    # approve_coe_step, provision_request: 403). See SERVICE_DECIDED.
    "tool-request": {
        **_crud(
            "tool_requests.view_request",
            "tool_requests.change_request",
            add="tool_requests.add_request",
        ),
        "preview": "tool_requests.add_request",
        "submit": "tool_requests.view_request",
        "approve": "tool_requests.view_request",
        "reject": "tool_requests.view_request",
        "withdraw": "tool_requests.view_request",
        "provision": "tool_requests.view_request",
        "comments": "tool_requests.view_request",
    },
    "connector": {
        **_crud("connectors.view_connector", "connectors.change_connector"),
        "sync": "connectors.sync_connector",
    },
    "sync-run": _read("connectors.view_syncrun"),
    "device": _read("connectors.view_device"),
    "metric": _read("connectors.view_metric"),
    "maturitymodel": _read("assessments.view_maturitymodel"),
    "assessment": {
        **_crud("assessments.view_assessment", "assessments.change_assessment"),
        "answers": {"get": "assessments.view_assessment", "post": "assessments.change_assessment"},
        "signals": {"get": "assessments.view_assessment", "post": "assessments.change_assessment"},
        "score": "assessments.view_assessment",
        "start": "assessments.change_assessment",
        "submit": "assessments.change_assessment",
        "reopen": "assessments.change_assessment",
        "evidence": "assessments.change_assessment",
        "finalize": "assessments.finalize_assessment",
        "comments": {"get": "assessments.view_assessment", "post": "assessments.change_assessment"},
    },
    "assessment-report-pdf": {"get": "assessments.view_assessment"},
    "assessment-report-xlsx": {"get": "assessments.view_assessment"},
    "portfolio-scorecards-xlsx": {"get": "assessments.view_portfolio"},
    "import-registry": {"post": "registry.import_registry"},
    "import-adoptions": {"post": "registry.import_adoptions"},
    "savings": {"get": "registry.view_finding"},
    "ingest-metrics": {"post": "connectors.upload_data"},
    "ingest-counters": {"post": "connectors.upload_data"},
    "ingest-finance": {"post": "connectors.upload_data"},
    "ingest-devices": {"post": "connectors.upload_data"},
    "factory-scorecard": {"get": "assessments.view_scorecard"},
    "factory-kpis": {"get": "assessments.view_kpis"},
    "factory-roi": {"get": "assessments.view_kpis"},
    "factory-flow": {"get": "assessments.view_kpis"},
    "webhook": {
        **_crud("notify.manage_webhook", "notify.manage_webhook"),
        "deliveries": "notify.manage_webhook",
    },
    "notification": {
        "list": "notify.view_notifications",
        "retrieve": "notify.view_notifications",
        "mark_read": "notify.view_notifications",
    },
    "notification-preferences": {
        "get": "notify.view_notifications",
        "put": "notify.view_notifications",
        "patch": "notify.view_notifications",
    },
    "portfolio-roi": {"get": "assessments.view_portfolio"},
    "lockout-list": {"list": "coe.unlock_sign_in", "get": "coe.unlock_sign_in"},
    "lockout-detail": {
        "retrieve": "coe.unlock_sign_in",
        "destroy": "coe.unlock_sign_in",
        "get": "coe.unlock_sign_in",
        "delete": "coe.unlock_sign_in",
    },
}

# Route actions whose rule above only opens the door: the service behind them asks the
# step's own rule once it knows the object's state (so 403 or 409 may follow).
SERVICE_DECIDED: frozenset[tuple[str, str]] = frozenset(
    {
        ("tool-request", "submit"),
        ("tool-request", "approve"),
        ("tool-request", "reject"),
        ("tool-request", "withdraw"),
        ("tool-request", "provision"),
        ("request-action", "post"),
    }
)


def _form(rule: str) -> dict[str, str]:
    """A page form: shown (GET) and sent (POST) under one rule."""
    return {"get": rule, "post": rule}


# Pages, by URL name: {method: rule}.
PAGES: dict[str, dict[str, str]] = {
    "home": {"get": "coe.view_home"},
    "search": {"get": "coe.search"},
    "portfolio": {"get": "assessments.view_portfolio"},
    "factory-list": {"get": "coe.view_factory"},
    "factory-detail": {"get": "coe.view_factory"},
    "factory-create": _form("coe.add_factory"),
    "factory-edit": _form("coe.change_factory"),
    "factory-delete": _form("coe.delete_factory"),
    "membership-add": _form("coe.manage_membership"),
    "membership-remove": {"post": "coe.manage_membership"},
    "tool-create": _form("registry.change_tool"),
    "tool-edit": _form("registry.change_tool"),
    "capability-create": _form("registry.change_capability"),
    "capability-edit": _form("registry.change_capability"),
    "process-create": _form("registry.change_process"),
    "process-edit": _form("registry.change_process"),
    "connector-create": _form("connectors.change_connector"),
    "connector-edit": _form("connectors.change_connector"),
    "connector-delete": _form("connectors.change_connector"),
    "process-version-create": _form("registry.change_process"),
    "process-version-edit": _form("registry.change_process"),
    "process-version-delete": _form("registry.delete_process"),
    "process-delete": _form("registry.delete_process"),
    "tool-delete": _form("registry.delete_tool"),
    "capability-list": {"get": "registry.view_capability"},
    "capability-delete": _form("registry.delete_capability"),
    "user-list": {"get": "coe.manage_user"},
    "user-invite": _form("coe.manage_user"),
    "user-reinvite": {"post": "coe.manage_user"},
    "currency-rate-list": {"get": "connectors.view_currencyrate"},
    "currency-rate-create": _form("connectors.change_currencyrate"),
    "currency-rate-edit": _form("connectors.change_currencyrate"),
    "currency-rate-delete": _form("connectors.change_currencyrate"),
    "assessment-list": {
        "get": "assessments.view_assessment",
        "post": "assessments.change_assessment",
    },
    "assessment-detail": {
        "get": "assessments.view_assessment",
        "post": "assessments.change_assessment",
    },
    "assessment-report": {"get": "assessments.view_assessment"},
    "assessment-correct": {"post": "assessments.change_assessment"},
    "evidence-file": {"get": "assessments.view_assessment"},
    "scorecard": {"get": "assessments.view_scorecard"},
    "factory-kpis-csv": {"get": "assessments.view_kpis"},
    "factory-roi-csv": {"get": "assessments.view_kpis"},
    "tool-list": {"get": "registry.view_tool"},
    "tool-detail": {"get": "registry.view_tool"},
    "tool-set-ring": {"post": "registry.change_tool"},
    "tool-merge": {"post": "registry.merge_tool"},
    "tech-radar": {"get": "registry.view_tool"},
    "process-list": {"get": "registry.view_process"},
    "duplicate-list": {"get": "registry.view_finding"},
    "duplicate-action": {"post": "registry.act_on_finding"},
    "duplicate-plan": {"post": "registry.act_on_finding"},
    "registry-unresolved": {"get": "registry.view_adoption", "post": "registry.map_name"},
    "registry-import": {"get": "registry.import_registry", "post": "registry.import_registry"},
    "registry-export": {"get": "registry.view_tool"},
    "request-list": {"get": "tool_requests.view_request"},
    "request-create": {"get": "tool_requests.add_request", "post": "tool_requests.add_request"},
    "request-detail": {"get": "tool_requests.view_request"},
    "request-comment": {"post": "tool_requests.view_request"},
    "request-action": {"post": "tool_requests.view_request"},
    "connector-list": {"get": "connectors.view_connector"},
    "connector-detail": {"get": "connectors.view_connector"},
    "connector-sync": {"post": "connectors.sync_connector"},
    "sync-run-status": {"get": "connectors.view_syncrun"},
    "device-list": {"get": "connectors.view_device"},
    "sync-run-list": {"get": "connectors.view_syncrun"},
    "device-detail": {"get": "connectors.view_device"},
    "fact-upload": {"get": "connectors.upload_data", "post": "connectors.upload_data"},
    "lockout-list": {"get": "coe.unlock_sign_in"},
    "lockout-unlock": {"post": "coe.unlock_sign_in"},
    "notification-list": {"get": "notify.view_notifications", "post": "notify.view_notifications"},
    "notification-mark-read": {"post": "notify.view_notifications"},
}

# Routes the policy does not guard: signing in and out, the health check, the API schema
# and docs (their access is a sign-in setting), the admin (Django's own staff flag, then
# the same rules through the rules backend).
OPEN_ROUTES: frozenset[str] = frozenset(
    {
        "login",
        "logout",
        "health",
        "auth-token",
        "schema",
        "docs",
        # an invitation's set-password link (coe/user_pages.py): its token is the check
        "invite-accept",
        # single sign-on: starting it and the provider's redirect back (coe/sso.py)
        "oidc_authentication_init",
        "oidc_authentication_callback",
        "oidc_logout",
    }
)


_WHO = {
    "member": "members of the factory",
    "owner": "business owners of the factory",
    "staff": "CoE staff",
}


def who_may(rule: str) -> str:
    """Who a rule lets through, in words (for a 403's message)."""
    access = ROLE_MATRIX.get(rule)
    if access is None:
        return "CoE staff"
    people = [_WHO[p] for p in ("member", "owner", "staff") if p in access.on_object]
    if "member" in access.on_object:
        people = [p for p in people if p != _WHO["owner"]]
    if access.on_object >= SIGNED_IN:
        return "everyone signed in"
    return " and ".join(people) or "nobody"


def rule_for(table: dict, key: str, action: str | None, method: str) -> str | None:
    """The rule guarding ``action`` (or ``method``) of route ``key``; ``None`` if none."""
    route = table.get(key)
    if route is None:
        return None
    if action == "partial_update":
        action = "update"
    entry = route.get(action) if action else None
    if entry is None:
        entry = route.get(method.lower())
    if isinstance(entry, dict):
        entry = entry.get(method.lower())
    return entry
