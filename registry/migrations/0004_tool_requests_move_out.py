# The tool-request models moved to the tool_requests app. Their tables stay where they are
# (tool_requests' models name them with db_table); only Django's state forgets them here.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0003_tool_requests'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='RequestComment'),
                migrations.DeleteModel(name='RequestTransition'),
                migrations.DeleteModel(name='ToolRequest'),
            ],
            database_operations=[],
        ),
    ]
