"""``manage.py load_taxonomy``: (re)create the default capability taxonomy where missing."""

from coe.changelog import ChangeLogCommand
from registry.models import Capability
from registry.taxonomy import load_taxonomy


class Command(ChangeLogCommand):
    help = "Create the default capability taxonomy for both factory kinds (idempotent)."

    def handle(self, *args, **options):
        created = load_taxonomy(Capability)
        self.stdout.write(f"{created} capabilities created")
