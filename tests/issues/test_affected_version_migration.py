"""The free-text affected version becomes Version rows per project (migration 0010)."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("issues", "0009_component_and_version_fields")]
AFTER = [("issues", "0010_affected_version_rows")]


def test_distinct_free_text_values_become_versions_of_their_project():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    Project = apps.get_model("projects", "Project")
    User = apps.get_model("accounts", "User")
    Issue = apps.get_model("issues", "Issue")
    user = User.objects.create(username="old")
    web = Project.objects.create(key="WEB", name="Web")
    ops = Project.objects.create(key="OPS", name="Ops")
    rows = [
        (web, 1, "2.4.1"),
        (web, 2, " 2.4.1 "),
        (web, 3, "2.5"),
        (web, 4, ""),
        (ops, 1, "2.4.1"),
    ]
    for project, number, text in rows:
        Issue.objects.create(
            project=project, number=number, title="t", reporter=user, affected_version_text=text
        )
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    apps = executor.loader.project_state(AFTER).apps
    Version = apps.get_model("projects", "Version")
    Issue = apps.get_model("issues", "Issue")
    assert sorted(Version.objects.values_list("project__key", "name")) == [
        ("OPS", "2.4.1"),
        ("WEB", "2.4.1"),
        ("WEB", "2.5"),
    ]
    pointed = {
        (i.project.key, i.number): i.affected_version.name if i.affected_version else ""
        for i in Issue.objects.select_related("project", "affected_version")
    }
    assert pointed == {
        ("WEB", 1): "2.4.1",
        ("WEB", 2): "2.4.1",
        ("WEB", 3): "2.5",
        ("WEB", 4): "",
        ("OPS", 1): "2.4.1",
    }
    # Back to the latest schema for the other tests.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
