"""``manage.py maturity_rebuild``: rewrite every factory's stored maturity rows."""

from django.core.management.base import BaseCommand

from assessments.maturity import rebuild


class Command(BaseCommand):
    help = "Rewrite each factory's current maturity (stage, index, dimension scores) rows."

    def handle(self, *args, **options):
        count = rebuild()
        self.stdout.write(f"maturity of {count} factories stored")
