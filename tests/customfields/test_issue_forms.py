"""Custom fields on the new-issue and edit forms, the issue page and the audit trail."""

import pytest
from django.urls import reverse

from customfields.models import CustomFieldValue, FieldKind
from customfields.services import archive_custom_field, create_custom_field
from issues.models import EventKind, Issue, IssueEvent
from tests.factories import make_issue

from .conftest import option

pytestmark = pytest.mark.django_db


def _data(project, **extra):
    data = {"project": project.pk, "title": "Checkout fails", "type": "bug"}
    data.update({"priority": 2, "severity": 2, **extra})
    return data


def test_new_form_shows_the_fields_of_the_project_and_type_from_the_query(
    client, project, reporter, affected, environment
):
    security_only = create_custom_field(
        project, name="CVE", slug="cve", kind=FieldKind.TEXT, issue_types=["security"]
    )
    client.force_login(reporter)
    page = client.get(reverse("issue_new"), {"project": project.key, "type": "bug"})
    assert page.status_code == 200
    assert 'name="cf_affected_customers"' in page.text
    assert "Required from Assigned on." in page.text
    production = option(environment, "Production").pk
    assert f'<option value="{production}">Production</option>' in page.text
    assert 'name="cf_cve"' not in page.text
    security = client.get(reverse("issue_new"), {"project": project.key, "type": "security"})
    assert f'name="cf_{security_only.slug}"' in security.text
    assert '<option value="security" selected>' in security.text


def test_file_with_custom_values(client, project, reporter, affected, environment):
    client.force_login(reporter)
    production = option(environment, "Production")
    response = client.post(
        reverse("issue_new"),
        _data(project, cf_affected_customers="120", cf_env=production.pk),
    )
    assert response.status_code == 302
    issue = Issue.objects.get()
    values = {v.field.slug: v for v in CustomFieldValue.objects.filter(issue=issue)}
    assert values["affected_customers"].number == 120
    assert values["env"].option == production
    page = client.get(issue.get_absolute_url())
    assert 'data-custom-field="affected_customers">120</dd>' in page.text
    assert 'data-custom-field="env">Production</dd>' in page.text


@pytest.mark.parametrize(
    ("kind", "extra", "value", "message"),
    [
        (FieldKind.NUMBER, {}, "lots", "Enter a number."),
        (FieldKind.DATE, {}, "2026-13-45", "Enter a valid date."),
        (FieldKind.URL, {}, "javascript:alert(1)", "Enter a valid URL."),
        (FieldKind.TEXT, {}, "x" * 300, "at most 255 characters"),
        (FieldKind.CHOICE, {"options": "A\nB"}, "999999", "Select a valid choice."),
        (FieldKind.USER, {}, "999999", "Select a valid choice."),
    ],
)
def test_bad_values_are_refused_on_the_field_and_nothing_is_filed(
    client, project, reporter, kind, extra, value, message
):
    create_custom_field(project, name="Odd", slug="odd", kind=kind, **extra)
    client.force_login(reporter)
    response = client.post(reverse("issue_new"), _data(project, cf_odd=value))
    assert response.status_code == 400
    assert message in response.text
    # The form comes back with the field and what was typed.
    assert 'name="cf_odd"' in response.text
    assert not Issue.objects.exists()
    assert not CustomFieldValue.objects.exists()


def test_a_user_field_takes_only_members_of_the_project(
    client, project, other_project, reporter, developer, outsider
):
    field = create_custom_field(project, name="Contact", slug="contact", kind=FieldKind.USER)
    client.force_login(reporter)
    page = client.get(reverse("issue_new"), {"project": project.key})
    assert f'<option value="{developer.pk}">developer</option>' in page.text
    assert "outsider" not in page.text
    refused = client.post(reverse("issue_new"), _data(project, cf_contact=outsider.pk))
    assert refused.status_code == 400
    assert not Issue.objects.exists()
    client.post(reverse("issue_new"), _data(project, cf_contact=developer.pk))
    assert CustomFieldValue.objects.get(field=field).user == developer


def test_an_always_required_field_must_be_filled_in(client, project, reporter):
    create_custom_field(
        project, name="Customer", slug="customer", kind=FieldKind.TEXT, required=True
    )
    client.force_login(reporter)
    response = client.post(reverse("issue_new"), _data(project))
    assert response.status_code == 400
    assert "This field is required." in response.text
    assert not Issue.objects.exists()


def test_rerender_after_post_keeps_the_fields_of_the_posted_project(
    client, project, other_project, reporter, affected
):
    client.force_login(reporter)
    response = client.post(
        reverse("issue_new"), _data(project, title="", cf_affected_customers="7")
    )
    assert response.status_code == 400
    assert 'name="cf_affected_customers"' in response.text
    assert 'value="7"' in response.text


def test_fields_of_a_project_you_cannot_see_never_appear(
    client, project, other_project, outsider, affected
):
    client.force_login(outsider)
    page = client.get(reverse("issue_new"), {"project": project.key})
    assert "cf_affected_customers" not in page.text
    issue = make_issue(other_project, outsider)
    assert "Affected customers" not in client.get(issue.get_absolute_url()).text
    # Posting another project's field to one's own project: ignored, nothing stored.
    client.post(reverse("issue_new"), _data(other_project, cf_affected_customers="5"))
    assert not CustomFieldValue.objects.exists()


def test_edit_changes_are_audited_with_labels(client, project, reporter, affected, environment):
    issue = make_issue(project, reporter)
    client.force_login(reporter)
    form = client.get(reverse("issue_edit", args=[issue.key]))
    assert 'name="cf_env"' in form.text
    staging = option(environment, "Staging")
    production = option(environment, "Production")
    base = {
        "title": issue.title,
        "type": "bug",
        "priority": 2,
        "severity": 2,
        "version": issue.version,
    }
    response = client.post(reverse("issue_edit", args=[issue.key]), {**base, "cf_env": staging.pk})
    assert response.status_code == 302
    issue.refresh_from_db()
    client.post(
        reverse("issue_edit", args=[issue.key]),
        {**base, "version": issue.version, "cf_env": production.pk, "cf_affected_customers": "3"},
    )
    events = IssueEvent.objects.filter(issue=issue, kind=EventKind.CHANGED).order_by("pk")
    assert [(e.field, e.old_value, e.new_value) for e in events] == [
        ("cf:env", "", "Staging"),
        ("cf:affected_customers", "", "3"),
        ("cf:env", "Staging", "Production"),
    ]
    page = client.get(issue.get_absolute_url())
    assert "changed <em>Environment</em> from “Staging” to “Production”" in page.text
    # A stale version saves nothing, custom values included.
    stale = client.post(reverse("issue_edit", args=[issue.key]), {**base, "cf_env": staging.pk})
    assert stale.status_code == 400
    assert CustomFieldValue.objects.get(issue=issue, field=environment).option == production


def test_bad_edit_changes_nothing_built_in_either(client, project, reporter, affected):
    issue = make_issue(project, reporter, title="Before")
    client.force_login(reporter)
    response = client.post(
        reverse("issue_edit", args=[issue.key]),
        {
            "title": "After",
            "type": "bug",
            "priority": 2,
            "severity": 2,
            "version": issue.version,
            "cf_affected_customers": "1e400",
        },
    )
    assert response.status_code == 400
    issue.refresh_from_db()
    assert issue.title == "Before"
    assert not CustomFieldValue.objects.exists()


def test_archived_fields_leave_the_forms_and_keep_their_values(
    client, project, reporter, environment
):
    client.force_login(reporter)
    client.post(reverse("issue_new"), _data(project, cf_env=option(environment, "Local").pk))
    issue = Issue.objects.get()
    archive_custom_field(environment, archived=True)
    assert 'name="cf_env"' not in client.get(reverse("issue_edit", args=[issue.key])).text
    assert 'data-custom-field="env"' not in client.get(issue.get_absolute_url()).text
    assert CustomFieldValue.objects.filter(issue=issue).count() == 1
    # Saving the edit form without it leaves the kept value alone.
    client.post(
        reverse("issue_edit", args=[issue.key]),
        {"title": "New title", "type": "bug", "priority": 2, "severity": 2, "version": 2},
    )
    archive_custom_field(environment, archived=False)
    assert 'data-custom-field="env">Local</dd>' in client.get(issue.get_absolute_url()).text


def test_issue_page_query_count_does_not_grow_with_fields(
    client, project, reporter, affected, environment, django_assert_max_num_queries
):
    issue = make_issue(project, reporter)
    client.force_login(reporter)
    client.get(issue.get_absolute_url())
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as two:
        client.get(issue.get_absolute_url())
    for i in range(5):
        create_custom_field(project, name=f"F{i}", slug=f"f{i}", kind=FieldKind.TEXT)
    with CaptureQueriesContext(connection) as seven:
        client.get(issue.get_absolute_url())
    assert len(seven.captured_queries) == len(two.captured_queries)
