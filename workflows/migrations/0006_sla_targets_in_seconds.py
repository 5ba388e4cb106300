"""SLA targets in whole seconds instead of whole minutes (issue 20: 0.33 h is 19 min 48 s,
which minutes cannot hold). Renames the policy's and the cycle's target fields and multiplies
the stored values by 60; the ledger (append-only) keeps what it recorded."""

from django.db import migrations


def _scale(apps, factor):
    policy_model = apps.get_model("workflows", "SlaPolicy")
    cycle_model = apps.get_model("workflows", "SlaCycle")
    for policy in policy_model.objects.all():
        policy.resolution_target_seconds = {
            k: int(v * factor) for k, v in policy.resolution_target_seconds.items()
        }
        policy.response_target_seconds = {
            k: int(v * factor) for k, v in policy.response_target_seconds.items()
        }
        policy.save(update_fields=["resolution_target_seconds", "response_target_seconds"])
    for cycle in cycle_model.objects.all().iterator():
        cycle.resolution_target_seconds = int(cycle.resolution_target_seconds * factor)
        if cycle.response_target_seconds is not None:
            cycle.response_target_seconds = int(cycle.response_target_seconds * factor)
        cycle.save(update_fields=["resolution_target_seconds", "response_target_seconds"])


def minutes_to_seconds(apps, schema_editor):
    _scale(apps, 60)


def seconds_to_minutes(apps, schema_editor):
    _scale(apps, 1 / 60)


class Migration(migrations.Migration):
    dependencies = [("workflows", "0005_project_on_cycles_and_stays")]

    operations = [
        migrations.RenameField("slapolicy", "resolution_minutes", "resolution_target_seconds"),
        migrations.RenameField("slapolicy", "response_minutes", "response_target_seconds"),
        migrations.RenameField("slacycle", "resolution_minutes", "resolution_target_seconds"),
        migrations.RenameField("slacycle", "response_minutes", "response_target_seconds"),
        migrations.RunPython(minutes_to_seconds, seconds_to_minutes),
    ]
