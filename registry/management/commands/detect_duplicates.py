"""``manage.py detect_duplicates [--json]``: recompute the duplicate findings now."""

import json

from coe.changelog import ChangeLogCommand
from registry.api.serializers import DuplicateFindingSerializer
from registry.detection import duplicates_detect
from registry.models import DuplicateFinding


class Command(ChangeLogCommand):
    help = "Recompute duplicate-toolset findings (same_tool, overlap, fragmentation)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the findings as JSON.")

    def handle(self, *args, **options):
        summary = duplicates_detect()
        if options["json"]:
            findings = DuplicateFinding.objects.prefetch_related(
                "tools", "factories"
            ).select_related("capability", "scope", "suggested_standard")
            data = DuplicateFindingSerializer(findings, many=True).data
            self.stdout.write(json.dumps(data, indent=2, default=str))
            return
        self.stdout.write(
            f"{summary.findings} findings: {summary.created} new, {summary.updated} updated, "
            f"{summary.reopened} reopened, {summary.resolved} resolved"
        )
