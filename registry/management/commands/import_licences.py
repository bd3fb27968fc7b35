"""``manage.py import_licences PATH``: seats and annual cost of existing adoptions from a
licence / SAM export (CSV/XLSX), atomic."""

from django.core.management.base import CommandError

from coe.changelog import ChangeLogCommand
from coe.tables import TableTooLarge
from registry.importers import ImportRejected, read_file
from registry.licences import import_licences


class Command(ChangeLogCommand):
    help = (
        "Update the seats and annual cost of existing adoptions from a licence/SAM export "
        "(factory,tool,seats,annual_cost[,currency]); creates no adoption; a bad file is "
        "rejected whole."
    )

    def add_arguments(self, parser):
        parser.add_argument("path")

    def handle(self, *args, **options):
        try:
            summary = import_licences(read_file(options["path"]))
        except TableTooLarge as exc:
            raise CommandError(f"{options['path']}: rejected, nothing imported ({exc})") from exc
        except ImportRejected as exc:
            for line in exc.errors:
                self.stderr.write(line)
            raise CommandError(f"{options['path']}: rejected, nothing imported ({exc})") from exc
        for line in summary.lines():
            self.stdout.write(line)
