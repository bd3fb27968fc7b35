"""``manage.py load_demo``: the Northwind Industrial demo organisation (idempotent).

The core (factories, people) comes first; then each app that has a ``demo`` module with a
``load_demo(core, stdout)`` function extends the story, lowest layer first.
"""

from importlib import import_module
from importlib.util import find_spec

from django.conf import settings

from coe.changelog import ChangeLogCommand
from coe.demo import PEOPLE, load_core

DEMO_APPS = ["registry", "tool_requests", "connectors", "assessments"]


class Command(ChangeLogCommand):
    help = "Load (or refresh) the demo organisation: factories, people, registry, connectors."

    def handle(self, *args, **options):
        core = load_core()
        self.stdout.write(
            f"Demo organisation: {len(core['factories'])} factories, {len(core['users'])} users."
        )
        for app in DEMO_APPS:
            if find_spec(f"{app}.demo") is not None:
                import_module(f"{app}.demo").load_demo(core, self.stdout)
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password for all: {settings.DEMO_PASSWORD})")
        for username, _first, _last, staff, memberships in PEOPLE:
            if staff:
                role = "CoE staff"
            else:
                roles = sorted({r.label for _, r in memberships})
                role = ", ".join(roles) + " of " + ", ".join(s for s, _ in memberships)
            self.stdout.write(f"  {username:<22} {role}")
