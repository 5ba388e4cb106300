"""A custom field required from a status on is enforced by the workflow's transition guard
(`workflows.services.clean_transition_data`), on the page, the board and the API alike."""

import pytest
from django.urls import reverse

from customfields.models import FieldKind
from customfields.services import archive_custom_field, create_custom_field, set_custom_values
from intake.services import create_assignment_rule
from issues.models import Status
from tests.factories import make_issue
from workflows.errors import WorkflowError
from workflows.services import transition_issue

pytestmark = pytest.mark.django_db


def test_assign_is_refused_until_the_field_is_filled_in(
    project, reporter, manager, developer, affected
):
    issue = make_issue(project, reporter)
    with pytest.raises(WorkflowError, match="“Affected customers” is required before Assigned"):
        transition_issue(issue, Status.ASSIGNED, actor=manager, owner=developer.pk)
    issue.refresh_from_db()
    assert issue.status == Status.NEW
    set_custom_values(issue, actor=reporter, values={"affected_customers": 40})
    transition_issue(issue, Status.ASSIGNED, actor=manager, owner=developer.pk)
    assert issue.status == Status.ASSIGNED


def test_the_error_shows_in_the_transition_panel(
    client, project, reporter, manager, developer, affected
):
    issue = make_issue(project, reporter)
    client.force_login(manager)
    response = client.post(
        reverse("issue_transition", args=[issue.key, "assigned"]),
        {"assign-owner": developer.pk, "assign-expected_status": "new"},
    )
    assert response.status_code == 400
    assert "“Affected customers” is required before Assigned" in response.text
    issue.refresh_from_db()
    assert issue.status == Status.NEW


def test_later_statuses_need_it_too_and_earlier_ones_do_not(project, reporter, manager, developer):
    create_custom_field(
        project,
        name="Root ticket",
        slug="root_ticket",
        kind=FieldKind.URL,
        required=True,
        required_from="retest",
    )
    issue = make_issue(project, reporter)
    transition_issue(issue, Status.ASSIGNED, actor=manager, owner=developer.pk)
    transition_issue(issue, Status.REVISE, actor=developer)
    with pytest.raises(WorkflowError, match="“Root ticket” is required before Retest"):
        transition_issue(issue, Status.RETEST, actor=developer, fix_summary="Done")
    set_custom_values(issue, actor=developer, values={"root_ticket": "https://example.com/1"})
    transition_issue(issue, Status.RETEST, actor=developer, fix_summary="Done")


def test_fields_of_other_types_and_archived_fields_do_not_hold_it_back(
    project, reporter, manager, developer, affected
):
    create_custom_field(
        project,
        name="CVE",
        slug="cve",
        kind=FieldKind.TEXT,
        required=True,
        required_from="assigned",
        issue_types=["security"],
    )
    archive_custom_field(affected, archived=True)
    issue = make_issue(project, reporter, type="bug")
    transition_issue(issue, Status.ASSIGNED, actor=manager, owner=developer.pk)
    assert issue.status == Status.ASSIGNED


def test_an_assignment_rule_is_not_held_back(project, reporter, developer, affected):
    """Resolve's own rows cannot fill in a person's facts: the rule still assigns."""
    create_assignment_rule(
        project, position=0, match_component="", match_label="", owner=developer, team=None
    )
    issue = make_issue(project, reporter)
    issue.refresh_from_db()
    assert (issue.status, issue.owner) == (Status.ASSIGNED, developer)


def test_a_field_required_from_a_status_is_required_on_the_edit_form_once_reached(
    client, project, reporter, manager, developer, affected
):
    issue = make_issue(project, reporter)
    set_custom_values(issue, actor=reporter, values={"affected_customers": 2})
    transition_issue(issue, Status.ASSIGNED, actor=manager, owner=developer.pk)
    issue.refresh_from_db()
    client.force_login(reporter)
    response = client.post(
        reverse("issue_edit", args=[issue.key]),
        {
            "title": issue.title,
            "type": "bug",
            "priority": 2,
            "severity": 2,
            "owner": developer.pk,
            "version": issue.version,
            "cf_affected_customers": "",
        },
    )
    assert response.status_code == 400
    assert "This field is required." in response.text
