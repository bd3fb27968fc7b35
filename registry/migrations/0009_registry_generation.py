"""The registry's data generation (coe.generations): triggers on the tables the
portfolio's money figures read, so those figures are memoised until one of them changes."""

from django.db import migrations

from coe import generations


class Migration(migrations.Migration):
    dependencies = [
        ("coe", "0005_data_generations"),
        ("registry", "0008_adoption_row_counts"),
    ]

    operations = [generations.migration("registry")]
