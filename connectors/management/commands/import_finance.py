"""`manage.py import_finance PATH`: land finance from a CSV/XLSX file (all rows or none)."""

from connectors.management.import_command import ImportCommand


class Command(ImportCommand):
    help = "Import finance from a CSV or XLSX file; a bad file imports nothing."
    kind = "finance"
