"""Extension points of the core pages.

The factory page is the core's, but much of what it shows (scorecard, KPIs, adoptions,
devices) belongs to higher apps. Those apps register a panel here from their
``AppConfig.ready()``: the higher layer calls down, the core never imports the apps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest

from coe.models import Factory


@dataclass(frozen=True)
class FactoryPanel:
    """A section of the factory page: a template and the function that builds its context."""

    key: str
    order: int
    template: str
    context: Callable[[HttpRequest, Factory], dict | None]


_FACTORY_PANELS: dict[str, FactoryPanel] = {}


def register_factory_panel(
    key: str,
    *,
    order: int,
    template: str,
    context: Callable[[HttpRequest, Factory], dict | None],
) -> None:
    """Add (or replace) a factory-page panel; a context of ``None`` hides the panel."""
    _FACTORY_PANELS[key] = FactoryPanel(key=key, order=order, template=template, context=context)


def factory_panels(request: HttpRequest, factory: Factory) -> list[dict]:
    """The rendered panels' templates and contexts, in order."""
    panels = []
    for panel in sorted(_FACTORY_PANELS.values(), key=lambda p: (p.order, p.key)):
        context = panel.context(request, factory)
        if context is not None:
            panels.append({"key": panel.key, "template": panel.template, "context": context})
    return panels


# Counts shown next to a navigation entry ("Requests 3"): URL name → count(request).
_NAV_COUNTS: dict[str, Callable[[HttpRequest], int]] = {}


def register_nav_count(url_name: str, count: Callable[[HttpRequest], int]) -> None:
    """Show ``count(request)`` next to the navigation entry of ``url_name`` (when not 0)."""
    _NAV_COUNTS[url_name] = count


def nav_count(request: HttpRequest, url_name: str) -> int:
    count = _NAV_COUNTS.get(url_name)
    return count(request) if count is not None else 0
