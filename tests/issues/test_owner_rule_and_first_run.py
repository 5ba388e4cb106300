"""One rule for who may own an issue; project member counts; the new-issue form's project."""

import re

import pytest
from django.urls import reverse

from projects.models import Role
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, make_issue

pytestmark = pytest.mark.django_db


def _owner_options(html: str) -> set[str]:
    select = re.search(r'<select name="owner".*?</select>', html, re.S).group(0)
    return set(re.findall(r"<option value=\"\d+\"[^>]*>([^<]+)</option>", select))


def test_the_issue_forms_offer_only_developers_as_owners(
    client, project, manager, developer, tester, reporter
):
    client.force_login(manager)
    offered = _owner_options(client.get(reverse("project_issue_new", args=[project.key])).text)
    assert offered == {str(developer)}
    issue = make_issue(project, reporter)
    assert _owner_options(client.get(reverse("issue_edit", args=[issue.key])).text) == {
        str(developer)
    }


def test_a_tester_is_refused_as_owner_by_the_edit_form(client, project, manager, tester, reporter):
    issue = make_issue(project, reporter)
    client.force_login(manager)
    response = client.post(
        reverse("issue_edit", args=[issue.key]),
        {
            "title": issue.title,
            "type": issue.type,
            "priority": issue.priority,
            "severity": issue.severity,
            "owner": tester.pk,
            "version": issue.version,
        },
    )
    assert response.status_code == 400
    assert "The owner must be a Developer of the project." in response.text
    issue.refresh_from_db()
    assert issue.owner is None


def test_bulk_edit_offers_and_accepts_only_developers(
    client, project, manager, developer, tester, reporter
):
    issue = make_issue(project, reporter)
    client.force_login(manager)
    # The bulk owner is typed or picked (no member list on the page); the rule is the service's.
    response = client.post(
        reverse("issue_bulk"), {"issues": [issue.pk], "owner": tester.username}, follow=True
    )
    assert "The owner must be a Developer of the project" in response.text
    issue.refresh_from_db()
    assert issue.owner is None
    client.post(reverse("issue_bulk"), {"issues": [issue.pk], "owner": developer.username})
    issue.refresh_from_db()
    assert issue.owner == developer


def test_the_service_applies_the_same_rule(project, tester, reporter):
    from issues.services import IssueError
    from workflows.issue_use_cases import create_issue

    with pytest.raises(IssueError, match="Developer of the project"):
        create_issue(project, reporter=reporter, title="x", owner=tester)


def test_projects_list_counts_every_member_for_every_viewer(client, admin_user):
    web = ProjectFactory(key="WEB", name="Web shop")
    ops = ProjectFactory(key="OPS", name="Operations")
    viewer = UserFactory(username="viewer")
    MembershipFactory(project=web, user=viewer, role=Role.REPORTER)
    MembershipFactory(project=ops, user=viewer, role=Role.DEVELOPER)
    for n in range(4):
        MembershipFactory(project=web, user=UserFactory(username=f"w{n}"), role=Role.DEVELOPER)
    MembershipFactory(project=ops, user=UserFactory(username="o1"), role=Role.TESTER)
    make_issue(web, viewer, title="Open one")
    make_issue(web, viewer, title="Open two")

    def counts(user):
        client.force_login(user)
        html = client.get(reverse("project_list")).text
        rows = re.findall(
            r'<td class="issue-key"><a [^>]*>(\w+)</a></td>.*?<td class="text-end">(\d+)</td><td class="text-end">(\d+)</td>',
            html,
        )
        return {key: (int(open_), int(members)) for key, open_, members in rows}

    assert counts(viewer) == {"OPS": (0, 2), "WEB": (2, 5)}
    assert counts(admin_user) == {"OPS": (0, 2), "WEB": (2, 5)}


def test_new_issue_form_preselects_the_only_project_or_the_one_you_came_from(
    client, project, other_project, reporter, developer
):
    def selected(html):
        select = re.search(r'<select name="project".*?</select>', html, re.S).group(0)
        return re.findall(r'<option value="(\d+)" selected>', select)

    client.force_login(reporter)  # a member of WEB only
    assert selected(client.get(reverse("issue_new")).text) == [str(project.pk)]
    MembershipFactory(project=other_project, user=developer, role=Role.DEVELOPER)
    client.force_login(developer)  # two projects: a choice to make…
    assert selected(client.get(reverse("issue_new")).text) == []
    # …unless they came from a project's page (the top bar's button says which).
    page = client.get(reverse("project_detail", args=["OPS"])).text
    assert 'href="/issues/new/?project=OPS"' in page
    assert selected(client.get(reverse("issue_new") + "?project=OPS").text) == [
        str(other_project.pk)
    ]
    issue = make_issue(project, reporter)
    assert 'href="/issues/new/?project=WEB"' in client.get(issue.get_absolute_url()).text
