"""The new-issue form switches the template: htmx fragment and the no-JS button."""

import pytest
from django.urls import reverse

from customfields.models import FieldKind
from customfields.services import create_custom_field
from issues.models import Issue, IssueType, Label, Priority, Severity
from playbooks.models import FiledWith
from playbooks.services import TemplateDraft, save_template
from projects.models import Membership, Role

pytestmark = pytest.mark.django_db

BUG_TEXT = "## Steps to reproduce\n\n## Expected\n\n## Actual\n\n## Environment\n"
SEC_TEXT = "## Affected systems\n\n## Exposure\n"


@pytest.fixture
def templates(project, manager):
    Label.objects.create(project=project, name="security")
    bug = save_template(project, IssueType.BUG, actor=manager, draft=TemplateDraft(BUG_TEXT))
    sec = save_template(
        project,
        IssueType.SECURITY,
        actor=manager,
        draft=TemplateDraft(
            SEC_TEXT,
            priority=Priority.HIGH,
            severity=Severity.CRITICAL,
            label_names=["security"],
            items=[("Rotate affected credentials", True)],
        ),
    )
    return bug, sec


def test_the_form_opens_with_the_bug_template(client, project, reporter, templates):
    client.force_login(reporter)
    page = client.get(reverse("issue_new")).content.decode()
    assert "## Steps to reproduce" in page
    assert f'name="template_version" value="{templates[0].pk}"' in page


def test_htmx_switch_returns_the_fields_with_the_template_and_keeps_the_title(
    client, project, reporter, templates
):
    bug, sec = templates
    client.force_login(reporter)
    response = client.post(
        reverse("issue_new"),
        {
            "project": project.pk,
            "type": IssueType.SECURITY,
            "title": "Leaked key",
            "description": BUG_TEXT,  # untouched: still the bug template's text
            "priority": Priority.MEDIUM,
            "severity": Severity.MINOR,
            "template_version": bug.pk,
            "apply_template": "1",
        },
        headers={"HX-Request": "true"},
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in page and 'id="issue-form-fields"' in page
    assert "## Affected systems" in page and "## Steps to reproduce" not in page
    assert 'value="Leaked key"' in page
    assert f'name="template_version" value="{sec.pk}"' in page
    assert f'<option value="{Severity.CRITICAL}" selected>' in page
    label = Label.objects.get(name="security")
    assert f'<option value="{label.pk}" selected>' in page
    assert not Issue.objects.exists()


def test_an_edited_description_and_changed_priority_are_kept(client, project, reporter, templates):
    bug, _ = templates
    client.force_login(reporter)
    page = client.post(
        reverse("issue_new"),
        {
            "project": project.pk,
            "type": IssueType.SECURITY,
            "title": "Leaked key",
            "description": BUG_TEXT + "It crashed on login",
            "priority": Priority.LOW,
            "severity": Severity.MINOR,
            "template_version": bug.pk,
            "apply_template": "1",
        },
    ).content.decode()
    assert "It crashed on login" in page and "## Affected systems" not in page
    assert f'<option value="{Priority.LOW}" selected>' in page  # the user's choice stays
    assert f'<option value="{Severity.CRITICAL}" selected>' in page  # still the default: switched
    assert "<html" in page  # no-JS: the whole page, nothing saved
    assert not Issue.objects.exists()


def test_filing_records_the_template_version(client, project, reporter, templates, manager):
    _, sec = templates
    client.force_login(reporter)
    response = client.post(
        reverse("issue_new"),
        {
            "project": project.pk,
            "type": IssueType.SECURITY,
            "title": "Leaked key",
            "description": SEC_TEXT,
            "priority": Priority.HIGH,
            "severity": Severity.CRITICAL,
            "template_version": sec.pk,
        },
    )
    assert response.status_code == 302
    issue = Issue.objects.get()
    assert FiledWith.objects.get(issue=issue).version == sec
    # Editing the template later leaves the issue's record alone.
    save_template(project, IssueType.SECURITY, actor=manager, draft=TemplateDraft("## v2"))
    assert FiledWith.objects.get(issue=issue).version == sec


def test_another_projects_template_version_is_ignored(
    client, project, other_project, reporter, templates, manager, outsider
):
    Membership.objects.create(project=other_project, user=manager, role=Role.MANAGER)
    foreign = save_template(
        other_project, IssueType.BUG, actor=manager, draft=TemplateDraft("## Secret of OTHER")
    )
    client.force_login(reporter)
    page = client.post(
        reverse("issue_new"),
        {
            "project": project.pk,
            "type": IssueType.BUG,
            "title": "x",
            "description": "## Secret of OTHER",
            "template_version": foreign.pk,
            "apply_template": "1",
        },
    ).content.decode()
    # The foreign version is not "the last template": the typed text is kept as the user's.
    assert "## Secret of OTHER" in page and "## Steps to reproduce" not in page
    assert f'name="template_version" value="{templates[0].pk}"' in page
    client.post(
        reverse("issue_new"),
        {
            "project": project.pk,
            "type": IssueType.BUG,
            "title": "x",
            "priority": 2,
            "severity": 2,
            "template_version": foreign.pk,
        },
    )
    assert FiledWith.objects.get().version == templates[0]


def test_a_template_shows_only_the_custom_fields_it_names(client, project, reporter, manager):
    """The template's "shown fields": the form shows those, plus any field required at filing
    (else the form could not be sent); a template naming none shows every field."""
    create_custom_field(project, name="Browser", slug="browser", kind=FieldKind.TEXT)
    create_custom_field(project, name="Build number", slug="build", kind=FieldKind.NUMBER)
    create_custom_field(
        project, name="Customers hit", slug="customers", kind=FieldKind.NUMBER, required=True
    )
    create_custom_field(
        project,
        name="Root host",
        slug="host",
        kind=FieldKind.TEXT,
        required=True,
        required_from="assigned",
    )
    save_template(
        project,
        IssueType.BUG,
        actor=manager,
        draft=TemplateDraft(BUG_TEXT, shown_fields=["browser"]),
    )
    client.force_login(reporter)
    page = client.get(reverse("issue_new")).content.decode()
    assert 'name="cf_browser"' in page and 'name="cf_customers"' in page
    assert 'name="cf_build"' not in page and 'name="cf_host"' not in page

    # Switching to a type without a template (htmx) shows every field again.
    fragment = client.post(
        reverse("issue_new"),
        {"project": project.pk, "type": IssueType.TASK, "title": "x", "apply_template": "1"},
        headers={"HX-Request": "true"},
    ).content.decode()
    assert 'name="cf_build"' in fragment and 'name="cf_host"' in fragment

    # Filing under the template: the hidden optional field is simply empty.
    response = client.post(
        reverse("issue_new"),
        {
            "project": project.pk,
            "type": IssueType.BUG,
            "title": "Checkout blank in Safari",
            "description": BUG_TEXT,
            "priority": Priority.MEDIUM,
            "severity": Severity.MINOR,
            "cf_browser": "Safari 19",
            "cf_customers": "3",
        },
    )
    assert response.status_code == 302
    assert Issue.objects.get(title="Checkout blank in Safari")
