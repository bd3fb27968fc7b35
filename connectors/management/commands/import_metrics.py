"""`manage.py import_metrics PATH`: land metrics from a CSV/XLSX file (all rows or none)."""

from connectors.management.import_command import ImportCommand


class Command(ImportCommand):
    help = "Import metrics from a CSV or XLSX file; a bad file imports nothing."
    kind = "metrics"
