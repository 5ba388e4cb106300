"""A project column on SLA cycles and status stays (copied from the issue), backfilled here,
with per-project indexes for the dashboard's period filters."""

import django.db.models.deletion
from django.db import migrations, models

BACKFILL = {
    "postgresql": (
        "UPDATE {table} AS t SET project_id = i.project_id "
        "FROM issues_issue AS i WHERE i.id = t.issue_id AND t.project_id IS NULL"
    ),
    "default": (
        "UPDATE {table} SET project_id = "
        "(SELECT project_id FROM issues_issue WHERE issues_issue.id = {table}.issue_id) "
        "WHERE project_id IS NULL"
    ),
}


def backfill(apps, schema_editor):
    sql = BACKFILL.get(schema_editor.connection.vendor, BACKFILL["default"])
    for table in ("workflows_slacycle", "workflows_statusperiod"):
        schema_editor.execute(sql.format(table=table))


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0003_issue_details"),
        ("projects", "0001_initial"),
        ("workflows", "0004_statusperiod_left_at_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="slacycle",
            name="project",
            field=models.ForeignKey(
                null=True,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="projects.project",
            ),
        ),
        migrations.AddField(
            model_name="statusperiod",
            name="project",
            field=models.ForeignKey(
                null=True,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="projects.project",
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="slacycle",
            name="project",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="projects.project",
            ),
        ),
        migrations.AlterField(
            model_name="statusperiod",
            name="project",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="projects.project",
            ),
        ),
        migrations.RemoveIndex(
            model_name="statusperiod",
            name="workflows_s_left_at_1c15f2_idx",
        ),
        migrations.AddIndex(
            model_name="slacycle",
            index=models.Index(
                fields=[
                    "project",
                    "stopped_at",
                    "issue",
                    "outcome",
                    "response_outcome",
                    "response_seconds",
                    "working_seconds",
                ],
                name="slacycle_project_stopped",
            ),
        ),
        migrations.AddIndex(
            model_name="statusperiod",
            index=models.Index(
                fields=["project", "left_at", "status", "entered_at", "issue"],
                name="statusperiod_project_left",
            ),
        ),
    ]
