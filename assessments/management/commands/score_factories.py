"""``manage.py score_factories``: re-measure evidence signals of open audits; print scorecards."""

from assessments.selectors import latest_finals_by_factory
from assessments.services import open_assessments_refresh_signals
from coe.changelog import ChangeLogCommand
from coe.models import Factory


class Command(ChangeLogCommand):
    help = (
        "Recompute the evidence signals of every open assessment and list each factory's "
        "current scorecard (results of final assessments are stored and never recomputed)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--factory", help="Only this factory (slug).")

    def handle(self, *args, factory: str | None = None, **options):
        factories = Factory.objects.order_by("name")
        if factory:
            factories = factories.filter(slug=factory)
        refreshed = open_assessments_refresh_signals(
            factory_ids=list(factories.values_list("pk", flat=True))
        )
        self.stdout.write(f"Signals re-measured for {refreshed} open assessment(s).")
        latest = latest_finals_by_factory(factories)
        for f in factories:
            a = latest.get(f.pk)
            if a is None:
                self.stdout.write(f"  {f.slug:<22} no final assessment")
            else:
                self.stdout.write(
                    f"  {f.slug:<22} {a.stage_name:<12} index {a.index} "
                    f"({a.model.key} v{a.model.version}, {a.assessed_on})"
                )
