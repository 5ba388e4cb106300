from django.db import migrations


def text_to_versions(apps, schema_editor):
    """One Version per project and distinct non-empty free-text affected version (trimmed;
    values differing only in surrounding spaces become one), and each issue pointed at it."""
    Issue = apps.get_model("issues", "Issue")
    Version = apps.get_model("projects", "Version")
    pairs = (
        Issue.objects.exclude(affected_version_text="")
        .values_list("project_id", "affected_version_text")
        .distinct()
    )
    versions: dict[tuple[int, str], int] = {}
    for project_id, text in pairs:
        name = text.strip()[:60]
        if not name:
            continue
        key = (project_id, name)
        if key not in versions:
            version, _ = Version.objects.get_or_create(project_id=project_id, name=name)
            versions[key] = version.pk
        Issue.objects.filter(project_id=project_id, affected_version_text=text).update(
            affected_version_id=versions[key]
        )


def versions_to_text(apps, schema_editor):
    Issue = apps.get_model("issues", "Issue")
    for issue in Issue.objects.filter(affected_version__isnull=False).select_related(
        "affected_version"
    ):
        Issue.objects.filter(pk=issue.pk).update(
            affected_version_text=issue.affected_version.name
        )


class Migration(migrations.Migration):
    dependencies = [("issues", "0009_component_and_version_fields")]

    operations = [migrations.RunPython(text_to_versions, versions_to_text)]
