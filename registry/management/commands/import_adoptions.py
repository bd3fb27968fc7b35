"""``manage.py import_adoptions PATH``: adoptions from CSV/XLSX (CONTRACT.md format), atomic."""

from django.core.management.base import CommandError

from coe.changelog import ChangeLogCommand
from coe.tables import TableTooLarge
from registry.importers import ImportRejected, import_adoptions, read_file


class Command(ChangeLogCommand):
    help = "Import adoptions from a CSV or XLSX file; a bad file is rejected whole."

    def add_arguments(self, parser):
        parser.add_argument("path")

    def handle(self, *args, **options):
        try:
            summary = import_adoptions(read_file(options["path"]))
        except TableTooLarge as exc:
            raise CommandError(f"{options['path']}: rejected, nothing imported ({exc})") from exc
        except ImportRejected as exc:
            for line in exc.errors:
                self.stderr.write(line)
            raise CommandError(f"{options['path']}: rejected, nothing imported ({exc})") from exc
        for line in summary.lines():
            self.stdout.write(line)
