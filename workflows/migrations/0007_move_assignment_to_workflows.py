"""AssignmentRule and Availability moved from intake to workflows (auto-assignment is the
lifecycle's): only Django's state changes; the tables keep their names and rows."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("intake", "0005_move_assignment_to_workflows"),
        ("projects", "0002_components_and_versions"),
        ("workflows", "0006_sla_targets_in_seconds"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Availability",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("away_until", models.DateField(blank=True, null=True)),
                        ("note", models.CharField(blank=True, max_length=120)),
                        (
                            "user",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="availability",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name_plural": "availability",
                        "db_table": "intake_availability",
                    },
                ),
                migrations.CreateModel(
                    name="AssignmentRule",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("position", models.PositiveIntegerField(default=0)),
                        (
                            "match_component",
                            models.CharField(
                                blank=True,
                                help_text="Matches the `component` tag of intake events.",
                                max_length=80,
                            ),
                        ),
                        (
                            "match_label",
                            models.CharField(blank=True, help_text="A label name.", max_length=50),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "component",
                            models.ForeignKey(
                                blank=True,
                                help_text="Sets this component; alone, routes to the component's lead or team.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="projects.component",
                            ),
                        ),
                        (
                            "owner",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "project",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="assignment_rules",
                                to="projects.project",
                            ),
                        ),
                        (
                            "team",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="projects.team",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "intake_assignmentrule",
                        "ordering": ["position", "id"],
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(
                                    models.Q(("owner__isnull", False), ("team__isnull", True)),
                                    models.Q(("owner__isnull", True), ("team__isnull", False)),
                                    models.Q(
                                        ("component__isnull", False),
                                        ("owner__isnull", True),
                                        ("team__isnull", True),
                                    ),
                                    _connector="OR",
                                ),
                                name="rule_targets_owner_team_or_component",
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
