"""`manage.py import_counters PATH`: land counters from a CSV/XLSX file (all rows or none)."""

from connectors.management.import_command import ImportCommand


class Command(ImportCommand):
    help = "Import counters from a CSV or XLSX file; a bad file imports nothing."
    kind = "counters"
