# A flag's history records a correction of the session record as one "corrected" line
# instead of a cleared/opened pair (issue 9.3). Only the choices change: no data to move.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('measures', '0003_imported_responses'),
    ]

    operations = [
        migrations.AlterField(
            model_name='signalaction',
            name='action',
            field=models.CharField(choices=[('opened', 'Opened'), ('escalated', 'Escalated'), ('updated', 'Evidence updated'), ('acknowledged', 'Acknowledged'), ('resolved', 'Resolved'), ('cleared', 'No longer holds'), ('corrected', 'Changed by a correction of the session record')], max_length=14),
        ),
    ]
