import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Components and versions (issue 19): the free-text affected version is kept aside as
    `affected_version_text` until 0010 has turned it into Version rows."""

    dependencies = [
        ("issues", "0008_board_order_indexes"),
        ("projects", "0002_components_and_versions"),
    ]

    operations = [
        migrations.RenameField("issue", "affected_version", "affected_version_text"),
        migrations.AddField(
            model_name="issue",
            name="component",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="issues",
                to="projects.component",
            ),
        ),
        migrations.AddField(
            model_name="issue",
            name="affected_version",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="affected_issues",
                to="projects.version",
            ),
        ),
        migrations.AddField(
            model_name="issue",
            name="fix_version",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="fixed_issues",
                to="projects.version",
            ),
        ),
    ]
