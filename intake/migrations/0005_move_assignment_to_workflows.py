"""AssignmentRule and Availability moved from intake to workflows (auto-assignment is the
lifecycle's): only Django's state changes; the tables keep their names and rows."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("intake", "0004_assignment_rule_component"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(
                    model_name="assignmentrule",
                    name="rule_targets_owner_team_or_component",
                ),
                migrations.RemoveField(
                    model_name="assignmentrule",
                    name="component",
                ),
                migrations.RemoveField(
                    model_name="assignmentrule",
                    name="owner",
                ),
                migrations.RemoveField(
                    model_name="assignmentrule",
                    name="project",
                ),
                migrations.RemoveField(
                    model_name="assignmentrule",
                    name="team",
                ),
                migrations.DeleteModel(
                    name="Availability",
                ),
                migrations.DeleteModel(
                    name="AssignmentRule",
                ),
            ],
            database_operations=[],
        ),
    ]
