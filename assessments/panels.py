"""The assessments panel of the factory page: current stage and a link to the scorecard."""

from __future__ import annotations

from django.http import HttpRequest

from coe.models import Factory
from coe.pages import register_factory_panel


def maturity_panel(request: HttpRequest, factory: Factory) -> dict:
    from assessments.selectors import audit_due_for, latest_final

    latest = latest_final(factory)
    return {"factory": factory, "latest": latest, "due": audit_due_for(factory, latest)}


def register() -> None:
    register_factory_panel(
        "maturity", order=10, template="assessments/panel.html", context=maturity_panel
    )
