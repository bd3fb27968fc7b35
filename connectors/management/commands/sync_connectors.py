"""``manage.py sync_connectors [--connector ID] [--factory SLUG]``: run syncs inline now."""

from django.core.management.base import CommandError

from coe.changelog import ChangeLogCommand
from connectors.choices import SyncStatus, SyncTrigger
from connectors.models import Connector
from connectors.services import due_connectors, sync_run_execute, sync_run_start


class Command(ChangeLogCommand):
    help = "Runs the named connectors' syncs now (or every due one) and prints the outcome."

    def add_arguments(self, parser):
        parser.add_argument("--connector", type=int, action="append", help="connector id")
        parser.add_argument("--factory", help="factory slug: all its enabled connectors")

    def handle(self, *args, connector=None, factory=None, **options):
        if connector or factory:
            qs = Connector.objects.select_related("factory")
            if connector:
                qs = qs.filter(pk__in=connector)
            if factory:
                qs = qs.filter(factory__slug=factory, enabled=True)
            connectors = list(qs)
            if not connectors:
                raise CommandError("no connector matches")
        else:
            connectors = due_connectors()
        failed = 0
        for c in connectors:
            run = sync_run_start(connector=c, trigger=SyncTrigger.USER, enqueue=False)
            run = sync_run_execute(run_id=run.pk)
            counts = ", ".join(f"{k} {v}" for k, v in run.counts.items())
            self.stdout.write(f"{c.factory.slug} / {c.name}: {run.status} ({counts})")
            if run.message:
                self.stdout.write(f"  {run.message}")
            failed += run.status == SyncStatus.FAILED
        if not connectors:
            self.stdout.write("no connector is due")
        if failed:
            raise CommandError(f"{failed} sync(s) failed")
