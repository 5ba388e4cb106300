"""Drop the single-column index on intake_occurrence.group_id: the (group_id, received_at)
index already serves every lookup by group, and each event inserts an occurrence.

Only the index is dropped (Django's own AlterField would also drop and re-add the foreign
key, re-validating every row under a lock that stops intake on a big table)."""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "intake_occurrence_group_id_6a98cd1c"


class Migration(migrations.Migration):
    dependencies = [
        ("intake", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="occurrence",
                    name="group",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="occurrences",
                        to="intake.eventgroup",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {INDEX}",
                    reverse_sql=f"CREATE INDEX {INDEX} ON intake_occurrence (group_id)",
                ),
            ],
        ),
    ]
