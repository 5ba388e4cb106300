"""An issue's component, affected version and fix version: the service and the forms refuse
another project's, archived components are not offered anew, the list, filters, CSV, bulk
edit, issue page and audit trail show them."""

import csv
import io

import pytest
from django.urls import reverse

from issues.models import EventKind, IssueEvent
from issues.services import IssueError
from projects.services import create_component, create_version, update_component
from tests.factories import make_issue
from workflows.issue_use_cases import bulk_update_issues, create_issue, update_issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def shape(project, other_project, manager, outsider, developer):
    return {
        "checkout": create_component(project, actor=manager, name="Checkout", lead=developer),
        "search": create_component(project, actor=manager, name="Search"),
        "foreign": create_component(other_project, actor=outsider, name="Pipelines"),
        "v24": create_version(project, actor=manager, name="2.4"),
        "v25": create_version(project, actor=manager, name="2.5"),
        "foreign_v": create_version(other_project, actor=outsider, name="ops-1"),
    }


def test_the_service_refuses_another_projects_component_and_versions(project, reporter, shape):
    for fields, field in (
        ({"component": shape["foreign"]}, "component"),
        ({"affected_version": shape["foreign_v"]}, "affected_version"),
        ({"fix_version": shape["foreign_v"]}, "fix_version"),
    ):
        with pytest.raises(IssueError) as refused:
            create_issue(project, reporter=reporter, title="x", **fields)
        assert refused.value.field == field
        assert "Choose a" in str(refused.value) and "of WEB" in str(refused.value)
    assert not project.issues.exists()
    issue = make_issue(project, reporter)
    with pytest.raises(IssueError):
        update_issue(issue, actor=reporter, changes={"component": shape["foreign"]})
    issue.refresh_from_db()
    assert issue.component is None


def test_archived_components_are_refused_for_new_choices_but_kept(
    project, reporter, manager, shape
):
    issue = make_issue(project, reporter, component=shape["search"])
    update_component(
        shape["search"],
        actor=manager,
        name="Search",
        description="",
        lead=None,
        default_team=None,
        archived=True,
    )
    with pytest.raises(IssueError, match="archived"):
        make_issue(project, reporter, component=shape["search"])
    # The issue keeps it through an edit of something else.
    update_issue(issue, actor=reporter, changes={"title": "New", "component": shape["search"]})
    issue.refresh_from_db()
    assert issue.component == shape["search"]


def test_changing_component_and_versions_is_audited_with_labels(client, project, reporter, shape):
    issue = make_issue(project, reporter, component=shape["checkout"])
    update_issue(
        issue,
        actor=reporter,
        changes={"component": shape["search"], "fix_version": shape["v25"]},
    )
    events = IssueEvent.objects.filter(issue=issue, kind=EventKind.CHANGED)
    by_field = {e.field: (e.old_value, e.new_value) for e in events}
    assert by_field["component"] == ("Checkout", "Search")
    assert by_field["fix_version"] == ("", "2.5")
    client.force_login(reporter)
    page = client.get(issue.get_absolute_url()).content.decode()
    assert "changed <em>component</em> from “Checkout” to “Search”" in page
    assert "fix version" in page
    assert reverse("version_detail", args=[project.key, shape["v25"].pk]) in page


def test_new_issue_form_offers_only_active_components_and_refuses_others(
    client, project, reporter, manager, shape
):
    update_component(
        shape["checkout"],
        actor=manager,
        name="Checkout",
        description="",
        lead=None,
        default_team=None,
        archived=True,
    )
    client.force_login(reporter)
    form = client.get(reverse("project_issue_new", args=[project.key])).content.decode()
    assert "Search" in form and "Checkout" not in form and "Pipelines" not in form
    data = {"project": project.pk, "title": "Broken", "type": "bug", "priority": 2, "severity": 2}
    refused = client.post(reverse("issue_new"), {**data, "component": shape["foreign"].pk})
    assert refused.status_code == 400
    assert "Choose an active component of the issue&#x27;s project." in refused.content.decode()
    assert not project.issues.exists()
    client.post(
        reverse("issue_new"),
        {**data, "component": shape["search"].pk, "affected_version": shape["v24"].pk},
    )
    issue = project.issues.get()
    assert (issue.component, issue.affected_version) == (shape["search"], shape["v24"])


def test_edit_form_sets_and_refuses(client, project, reporter, shape):
    issue = make_issue(project, reporter)
    client.force_login(reporter)
    url = reverse("issue_edit", args=[issue.key])
    data = {
        "version": issue.version,
        "title": issue.title,
        "description": "",
        "type": issue.type,
        "priority": issue.priority,
        "severity": issue.severity,
        "environment": "",
        "component": shape["checkout"].pk,
        "fix_version": shape["foreign_v"].pk,
    }
    response = client.post(url, data)
    assert response.status_code == 400
    assert "Choose a version of the issue&#x27;s project." in response.content.decode()
    issue.refresh_from_db()
    assert issue.component is None
    data["fix_version"] = shape["v25"].pk
    assert client.post(url, data).status_code == 302
    issue.refresh_from_db()
    assert (issue.component, issue.fix_version) == (shape["checkout"], shape["v25"])


def test_list_shows_filters_and_chips_by_component_and_version(client, project, reporter, shape):
    make_issue(project, reporter, title="Pay fails", component=shape["checkout"])
    make_issue(project, reporter, title="Search slow", fix_version=shape["v25"])
    client.force_login(reporter)
    page = client.get(reverse("issue_list")).content.decode()
    assert "issue-component" in page and "Checkout" in page
    only = client.get(reverse("issue_list"), {"component": shape["checkout"].pk}).content.decode()
    assert "Pay fails" in only and "Search slow" not in only
    assert "Component" in only  # the chip
    fixed = client.get(reverse("issue_list"), {"fix_version": shape["v25"].pk}).content.decode()
    assert "Search slow" in fixed and "Pay fails" not in fixed
    # Another project's component is no valid choice: an error, nothing listed from it.
    foreign = client.get(reverse("issue_list"), {"component": shape["foreign"].pk})
    assert foreign.status_code == 200
    assert "Pay fails" not in foreign.content.decode()


def test_saved_filter_keeps_the_component(client, project, reporter, shape):
    client.force_login(reporter)
    query = f"component={shape['checkout'].pk}"
    client.post(reverse("issue_filter_save"), {"name": "Checkout", "query": query})
    page = client.get(reverse("issue_list")).content.decode()
    assert query in page


def test_list_query_count_does_not_grow_with_components(
    client, project, reporter, shape, django_assert_num_queries
):
    client.force_login(reporter)
    for n in range(5):
        make_issue(project, reporter, title=f"I{n}", component=shape["checkout"])
    client.get(reverse("issue_list"))
    with django_assert_num_queries(11):
        client.get(reverse("issue_list"))
    for n in range(20):
        make_issue(project, reporter, title=f"J{n}", component=shape["search"])
    with django_assert_num_queries(11):
        client.get(reverse("issue_list"))


def test_csv_has_component_and_versions(client, project, reporter, shape):
    make_issue(
        project,
        reporter,
        component=shape["checkout"],
        affected_version=shape["v24"],
        fix_version=shape["v25"],
    )
    client.force_login(reporter)
    response = client.get(reverse("issue_export"))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert (rows[0]["component"], rows[0]["affected_version"], rows[0]["fix_version"]) == (
        "Checkout",
        "2.4",
        "2.5",
    )


def test_bulk_sets_a_component_by_name_in_each_issues_project_all_or_nothing(
    client, project, reporter, manager, shape
):
    a = make_issue(project, reporter)
    b = make_issue(project, reporter)
    client.force_login(manager)
    client.post(reverse("issue_bulk"), {"issues": [a.pk, b.pk], "component": "search"})
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.component == b.component == shape["search"]
    with pytest.raises(IssueError, match="WEB has no component called “Pipelines”"):
        bulk_update_issues([a, b], actor=manager, component="Pipelines")
    a.refresh_from_db()
    assert a.component == shape["search"]
    bulk_update_issues([a], actor=manager, component="none")
    a.refresh_from_db()
    assert a.component is None
