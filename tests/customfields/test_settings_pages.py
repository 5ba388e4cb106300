"""Managers define custom fields on the project's settings pages, with a preview."""

import pytest
from django.urls import reverse

from customfields.models import CustomField, CustomFieldValue, FieldKind
from customfields.services import set_custom_values
from tests.factories import make_issue

pytestmark = pytest.mark.django_db


def _definition(**extra):
    data = {
        "name": "Environment",
        "slug": "env",
        "kind": FieldKind.CHOICE,
        "options": "Production\nStaging",
        "help_text": "Where it happens.",
        "order": 2,
    }
    data.update(extra)
    return data


def test_manager_creates_edits_reorders_and_archives(client, project, manager, reporter):
    client.force_login(manager)
    listing = client.get(reverse("customfield_list", args=[project.key]))
    assert listing.status_code == 200
    assert "No custom fields yet" in listing.text
    created = client.post(reverse("customfield_new", args=[project.key]), _definition())
    assert created.status_code == 302
    client.post(
        reverse("customfield_new", args=[project.key]),
        _definition(
            name="Affected customers",
            slug="affected",
            kind=FieldKind.NUMBER,
            options="",
            required="on",
            required_from="assigned",
            order=1,
        ),
    )
    env = CustomField.objects.get(slug="env")
    assert [o.label for o in env.options.all()] == ["Production", "Staging"]
    listing = client.get(reverse("customfield_list", args=[project.key]))
    # Ordered by the order number; the preview renders the fields as the issue form does.
    assert listing.text.index("Affected customers") < listing.text.index(">Environment<")
    assert "Required from Assigned on" in listing.text
    assert 'name="preview-cf_env"' in listing.text
    assert "<option value=" in listing.text and ">Staging</option>" in listing.text

    # Edit: rename, reorder choices, drop one (archived: issues keep it), add one.
    issue = make_issue(project, reporter)
    set_custom_values(issue, actor=reporter, values={"env": "Staging"})
    edited = client.post(
        reverse("customfield_edit", args=[project.key, env.pk]),
        _definition(name="Deployment", options="Local\nProduction", order=0, slug="ignored"),
    )
    assert edited.status_code == 302
    env.refresh_from_db()
    assert (env.name, env.slug, env.order) == ("Deployment", "env", 0)
    live = [o.label for o in env.options.all() if o.archived_at is None]
    assert live == ["Local", "Production"]
    assert CustomFieldValue.objects.get(issue=issue).option.label == "Staging"
    # The issue keeps its archived choice: offered to it (marked), and saving keeps it.
    form = client.get(reverse("issue_edit", args=[issue.key]))
    assert ">Staging (archived)</option>" in form.text and ">Local</option>" in form.text
    staging = env.options.get(label="Staging").pk
    saved = client.post(
        reverse("issue_edit", args=[issue.key]),
        {
            "title": "Renamed",
            "type": "bug",
            "priority": 2,
            "severity": 2,
            "version": 2,
            "cf_env": staging,
        },
    )
    assert saved.status_code == 302
    assert CustomFieldValue.objects.get(issue=issue).option.label == "Staging"
    other = make_issue(project, reporter)
    refused = client.post(
        reverse("issue_edit", args=[other.key]),
        {
            "title": "x",
            "type": "bug",
            "priority": 2,
            "severity": 2,
            "version": 1,
            "cf_env": staging,
        },
    )
    assert refused.status_code == 400
    assert not CustomFieldValue.objects.filter(issue=other).exists()

    client.post(reverse("customfield_archive", args=[project.key, env.pk]), {"action": "archive"})
    env.refresh_from_db()
    assert env.archived_at is not None
    assert "archived" in client.get(reverse("customfield_list", args=[project.key])).text
    client.post(reverse("customfield_archive", args=[project.key, env.pk]), {"action": "restore"})
    env.refresh_from_db()
    assert env.archived_at is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"slug": "Bad Slug"}, "Lower-case letters"),
        ({"name": " "}, "This field is required."),
        ({"options": ""}, "List its choices, one per line."),
        ({"options": "A\na"}, "“a” is listed twice."),
        ({"options": "x" * 81}, "A choice has at most 80 characters"),
    ],
)
def test_bad_definitions_are_refused_on_the_field(client, project, manager, extra, message):
    client.force_login(manager)
    response = client.post(reverse("customfield_new", args=[project.key]), _definition(**extra))
    assert response.status_code == 400
    assert message in response.text
    assert not CustomField.objects.exists()


def test_slug_is_unique_per_project_only(client, project, other_project, manager, outsider):
    client.force_login(manager)
    client.post(reverse("customfield_new", args=[project.key]), _definition())
    again = client.post(reverse("customfield_new", args=[project.key]), _definition())
    assert again.status_code == 400
    assert "WEB already has a field “env”" in again.text
    client.force_login(outsider)
    other = client.post(reverse("customfield_new", args=[other_project.key]), _definition())
    assert other.status_code == 302
    assert CustomField.objects.filter(slug="env").count() == 2


def test_only_managers_of_the_project(client, project, manager, developer, outsider):
    client.force_login(manager)
    client.post(reverse("customfield_new", args=[project.key]), _definition())
    field = CustomField.objects.get()
    client.force_login(developer)
    assert client.get(reverse("customfield_list", args=[project.key])).status_code == 403
    refused = client.post(reverse("customfield_new", args=[project.key]), _definition(slug="x"))
    assert refused.status_code == 403
    client.force_login(outsider)
    for url in (
        reverse("customfield_list", args=[project.key]),
        reverse("customfield_edit", args=[project.key, field.pk]),
    ):
        assert client.get(url).status_code == 404
    archive = client.post(reverse("customfield_archive", args=[project.key, field.pk]))
    assert archive.status_code == 404
    field.refresh_from_db()
    assert field.archived_at is None
    # A field id of another project under one's own project: not found.
    assert client.get(reverse("customfield_edit", args=["OPS", field.pk])).status_code == 404


def test_project_page_links_the_settings(client, project, manager):
    client.force_login(manager)
    page = client.get(reverse("project_detail", args=[project.key]))
    assert reverse("customfield_list", args=[project.key]) in page.text
