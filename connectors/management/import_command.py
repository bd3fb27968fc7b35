"""The shared body of the ``import_metrics`` / ``import_counters`` / ``import_finance`` commands."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError

from coe.changelog import ChangeLogCommand
from coe.models import Factory
from coe.tables import TableTooLarge
from connectors.imports import ImportRejected, facts_import_file


class ImportCommand(ChangeLogCommand):
    """Reads PATH, imports it atomically, prints one line per bad row and exits non-zero."""

    kind: str

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", help="CSV or XLSX file (header row first)")
        parser.add_argument(
            "--factory", help="factory slug for rows whose factory column is empty or absent"
        )

    def handle(self, *args, path: str, factory: str | None = None, **options) -> None:
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"{path}: no such file")
        default = None
        if factory:
            default = Factory.objects.filter(slug=factory).first()
            if default is None:
                raise CommandError(f"--factory: unknown factory {factory!r}")
        try:
            with open(file, "rb") as handle:
                result = facts_import_file(
                    kind=self.kind, data=handle, name=file.name, default_factory=default
                )
        except TableTooLarge as exc:
            raise CommandError(f"{file.name}: {exc}; nothing imported") from None
        except ImportRejected as exc:
            for line in exc.errors:
                self.stderr.write(line)
            raise CommandError(
                f"{file.name}: {len(exc.errors)} problem(s); nothing imported"
            ) from None
        self.stdout.write(
            f"{file.name}: {result.rows} row(s) — {result.created} created, "
            f"{result.updated} updated, {result.unchanged} unchanged"
        )
