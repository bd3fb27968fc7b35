"""``docs/permissions.md``, rendered from the permission table (``coe/policy_matrix.py``)
and the URL resolver: the role × action matrix, then every API route and page with the
rule that guards it. ``manage.py permissions_doc`` writes it; a test checks it is current.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, get_resolver

from coe.policy import RULES
from coe.policy_matrix import API, OPEN_ROUTES, PAGES, PERSONAS, ROLE_MATRIX

LABELS = {
    "anonymous": "anonymous",
    "member": "member of A",
    "owner": "owner of A",
    "other_owner": "owner of B",
    "staff": "CoE staff",
}


def _cell(rule: str, persona: str) -> str:
    access = ROLE_MATRIX[rule]
    if persona in access.on_object:
        return "yes"
    if persona in access.without_object:
        return "own" if access.without_object != access.on_object else "yes"
    return "—"


def route_paths() -> dict[str, list[str]]:
    """``{route key: [path, …]}``: API keys are router basenames or URL names (under
    ``/api/``), page keys URL names."""
    from coe.urls import api_router

    paths: dict[str, list[str]] = {}
    for prefix, _viewset, basename in api_router.registry:
        paths.setdefault(f"api:{basename}", []).append(f"/api/{prefix}/")

    def walk(patterns, prefix: str, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                space = pattern.namespace or namespace
                walk(pattern.url_patterns, prefix + str(pattern.pattern), space)
            elif isinstance(pattern, URLPattern) and pattern.name:
                path = "/" + prefix + str(pattern.pattern)
                if "^" in path:  # the router's own patterns are listed by prefix above
                    continue
                key = f"{namespace}:{pattern.name}" if namespace else pattern.name
                paths.setdefault(key, []).append(path)

    walk(get_resolver().url_patterns, "", "")
    return paths


def render() -> str:
    """The whole of ``docs/permissions.md``."""
    paths = route_paths()
    lines = [
        "# Permissions",
        "",
        "Generated from `coe/policy_matrix.py` by `manage.py permissions_doc`; do not edit",
        "by hand (a test fails when this file and the table differ).",
        "",
        "Every permission decision is a named rule of `coe/policy.py` (the `rules` package):",
        "the API asks it through one permission class, the pages through `page_rule`, the",
        "templates through `{% has_perm %}`, the admin through the rules backend. The rows",
        "a user sees come from `coe/scoping.py`: an object outside the user's factories is a",
        '404 whether it exists or not, and a write naming one is the same 400 ("does not',
        'exist") as a write naming an unknown one.',
        "",
        "## Who may take each action",
        "",
        "For an object of factory A (a tool request: one raised by the member of A; an",
        "account: the member's). *yes*: allowed; *own*: allowed on their own (their",
        "factory's objects, their account, their request), not on this one; —: refused",
        "(403, or 404 where the object is not theirs to see). CoE staff take a request's",
        "owner step only where no business owner but the requester exists.",
        "",
        "| rule | " + " | ".join(LABELS[p] for p in PERSONAS) + " |",
        "|---|" + "---|" * len(PERSONAS),
    ]
    for rule in sorted(ROLE_MATRIX):
        lines.append(f"| `{rule}` | " + " | ".join(_cell(rule, p) for p in PERSONAS) + " |")
    lines += ["", "## API routes", "", "| route | path | action | rule |", "|---|---|---|---|"]
    for key in sorted(API):
        shown = paths.get(f"api:{key}", ["—"])[0]
        for action, rule in sorted(API[key].items()):
            rules = rule if isinstance(rule, dict) else {"": rule}
            for method, name in sorted(rules.items()):
                label = f"{action} ({method.upper()})" if method else action
                lines.append(f"| {key} | `{shown}` | {label} | `{name}` |")
    lines += ["", "## Pages", "", "| page | path | method | rule |", "|---|---|---|---|"]
    for key in sorted(PAGES):
        shown = paths.get(key, ["—"])[0]
        for method, rule in sorted(PAGES[key].items()):
            lines.append(f"| {key} | `{shown}` | {method.upper()} | `{rule}` |")
    lines += [
        "",
        "## Open routes",
        "",
        "Not guarded by a rule (signing in and out, the health check, the API schema and",
        "docs, whose access is a sign-in setting): "
        + ", ".join(f"`{name}`" for name in sorted(OPEN_ROUTES))
        + ".",
        "",
        f"{len(RULES)} rules; {sum(len(r) for r in API.values())} API actions on {len(API)} "
        f"routes; {sum(len(r) for r in PAGES.values())} page actions on {len(PAGES)} pages.",
        "",
    ]
    return "\n".join(lines)
