"""The maturity data generation (coe.generations): triggers on the tables the portfolio's
maturity charts read, so those charts are memoised until one of them changes."""

from django.db import migrations

from coe import generations


class Migration(migrations.Migration):
    dependencies = [
        ("coe", "0005_data_generations"),
        ("assessments", "0003_factory_maturity_rows"),
    ]

    operations = [generations.migration("maturity")]
