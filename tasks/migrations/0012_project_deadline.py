# Issue 30 item 10: an optional deadline per project; the ops console marks a project late when its ETA at
# the last 24 hours' pace ends after it. A nullable column: no rewrite of the table, no default to fill.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tasks', '0011_answer_review'),
    ]

    operations = [
        migrations.AddField(
            model_name='project',
            name='deadline',
            field=models.DateTimeField(blank=True, help_text='When the client wants the work done; the ops console marks the project late when its pace would finish after it.', null=True),
        ),
    ]
