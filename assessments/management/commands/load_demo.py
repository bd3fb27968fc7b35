"""``manage.py load_demo``: the Northwind Industrial demo organisation (idempotent).

The core (factories, people) comes first; then each app that has a ``demo`` module with a
``load_demo(core, stdout)`` function extends the story, lowest layer first.
"""

from importlib import import_module
from importlib.util import find_spec

from django.conf import settings

from coe import derived
from coe.changelog import ChangeLogCommand
from coe.demo import PEOPLE, load_core
from kpis.rollups import rebuild

DEMO_APPS = ["registry", "tool_requests", "connectors", "assessments"]


class Command(ChangeLogCommand):
    help = "Load (or refresh) the demo organisation: factories, people, registry, connectors."

    def handle(self, *args, **options):
        # Rows saved one by one would each refresh their factory's KPI rollups: hold those
        # touches and rebuild every factory's rollups once, here, when the story is in.
        with derived.batch(hand_over=False):
            core = load_core()
            self.stdout.write(
                f"Demo organisation: {len(core['factories'])} factories, "
                f"{len(core['users'])} users."
            )
            for app in DEMO_APPS:
                if find_spec(f"{app}.demo") is not None:
                    import_module(f"{app}.demo").load_demo(core, self.stdout)
        counts = rebuild()
        self.stdout.write(
            f"KPI rollups: {counts['months']} factory months of {counts['factories']} factories."
        )
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password for all: {settings.DEMO_PASSWORD})")
        for username, _first, _last, staff, memberships in PEOPLE:
            if staff:
                role = "CoE staff"
            else:
                roles = sorted({r.label for _, r in memberships})
                role = ", ".join(roles) + " of " + ", ".join(s for s, _ in memberships)
            self.stdout.write(f"  {username:<22} {role}")
