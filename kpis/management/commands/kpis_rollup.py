"""``manage.py kpis_rollup [--factory SLUG]``: rebuild the KPI rollups from the facts.

Every month of every factory (or of one factory), and their figures, written as the
refresh task writes them; months whose facts are gone are deleted. Idempotent.
"""

from django.core.management.base import BaseCommand, CommandError

from coe.models import Factory
from kpis.rollups import rebuild


class Command(BaseCommand):
    help = "Rebuild the per-factory KPI rollups (monthly OEE, DORA, finance; ROI, spend, findings)."

    def add_arguments(self, parser):
        parser.add_argument("--factory", metavar="SLUG", help="only this factory")

    def handle(self, *args, factory=None, **options):
        ids = None
        if factory:
            ids = list(Factory.objects.filter(slug=factory).values_list("pk", flat=True))
            if not ids:
                raise CommandError(f"factory: no factory with slug {factory!r}")
        counts = rebuild(ids)
        self.stdout.write(
            f"Rebuilt the KPI rollups of {counts['factories']} factories: "
            f"{counts['months']} factory months written, {counts['deleted']} removed."
        )
