"""``manage.py load_demo``: the Northwind Industrial demo organisation (idempotent)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from coe.demo import PEOPLE, load_core


class Command(BaseCommand):
    help = "Load (or refresh) the demo organisation: factories, people, registry, connectors."

    def handle(self, *args, **options):
        core = load_core()
        self.stdout.write(
            f"Demo organisation: {len(core['factories'])} factories, {len(core['users'])} users."
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
