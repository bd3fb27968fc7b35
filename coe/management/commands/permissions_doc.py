"""Write ``docs/permissions.md`` from the permission table (``--check``: fail if stale)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from coe.policy_doc import render


class Command(BaseCommand):
    help = "Render docs/permissions.md from coe/policy_matrix.py (--check: fail when stale)."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="fail if the file differs")

    def handle(self, *args, check: bool = False, **options):
        target = Path(settings.BASE_DIR) / "docs" / "permissions.md"
        text = render()
        if check:
            current = target.read_text() if target.exists() else ""
            if current != text:
                raise CommandError(f"{target} is stale: run manage.py permissions_doc")
            self.stdout.write(f"{target} is current.")
            return
        target.write_text(text)
        self.stdout.write(f"Wrote {target}.")
