"""Auto-assignment rules: owner or team by component/label, least open work, out of office."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from intake.assignment import auto_assign_issue, choose_assignee
from intake.models import AssignmentRule, Availability
from intake.services import create_assignment_rule, set_availability
from issues.models import EventKind, Issue, IssueEvent, Label
from projects.models import Role
from tests.factories import MembershipFactory, TeamFactory, UserFactory, make_issue

pytestmark = pytest.mark.django_db

TODAY = date(2026, 1, 31)


def rule(project, **kwargs):
    kwargs.setdefault("position", 0)
    kwargs.setdefault("match_component", "")
    kwargs.setdefault("match_label", "")
    kwargs.setdefault("owner", None)
    kwargs.setdefault("team", None)
    return create_assignment_rule(project, **kwargs)


@pytest.fixture
def crew(project, manager, developer, tester):
    """Team Core = developer + tester + a second developer (dana)."""
    dana = UserFactory(username="dana")
    MembershipFactory(project=project, user=dana, role=Role.DEVELOPER)
    team = TeamFactory(name="Core")
    team.members.add(developer, tester, dana)
    return team, dana


def test_component_rule_names_the_owner(project, reporter, developer, manager):
    rule(project, match_component="checkout", owner=developer)
    rule(project, position=1, owner=manager)  # catch-all
    issue = make_issue(project, reporter)
    choice = choose_assignee(issue, component="Checkout", today=TODAY)
    assert choice.user == developer
    assert "component “checkout”" in choice.why
    other = choose_assignee(issue, component="search", today=TODAY)
    assert other.user == manager


def test_label_rule(project, reporter, tester, developer):
    rule(project, match_label="ui", owner=tester)
    issue = make_issue(project, reporter)
    assert choose_assignee(issue, today=TODAY).user is None
    issue.labels.add(Label.objects.create(project=project, name="UI"))
    choice = choose_assignee(issue, today=TODAY)
    assert choice.user == tester
    assert choice.rule.match_label == "ui"


def test_team_rule_picks_least_open_work_weighted_by_severity(
    project, reporter, developer, tester, crew
):
    team, dana = crew
    rule(project, team=team)
    # developer: one Critical (8); tester: three Minor (6); dana: two Major (8).
    make_issue(project, reporter, owner=developer, severity=4)
    for _ in range(3):
        make_issue(project, reporter, owner=tester, severity=2)
    for _ in range(2):
        make_issue(project, reporter, owner=dana, severity=3)
    issue = make_issue(project, reporter)
    choice = choose_assignee(issue, today=TODAY)
    assert choice.user == tester
    assert "least open work in team Core (3 open, weighted 6)" in choice.why


def test_closed_work_does_not_count(project, reporter, developer, tester, crew):
    team, dana = crew
    rule(project, team=team)
    for user in (developer, dana):
        make_issue(project, reporter, owner=user, severity=1)
    big = make_issue(project, reporter, owner=tester, severity=4)
    Issue.objects.filter(pk=big.pk).update(status="closed")
    make_issue(project, reporter, owner=tester, severity=1)
    # All three have weight 1 and one open issue: the username decides (dana < developer < tester).
    assert choose_assignee(make_issue(project, reporter), today=TODAY).user == dana


def test_out_of_office_members_are_passed_over_until_the_date(
    project, reporter, developer, tester, crew
):
    team, dana = crew
    rule(project, team=team)
    make_issue(project, reporter, owner=developer, severity=1)
    make_issue(project, reporter, owner=tester, severity=1)
    Availability.objects.create(user=dana, away_until=TODAY + timedelta(days=2))
    issue = make_issue(project, reporter)
    assert choose_assignee(issue, today=TODAY).user == developer
    assert choose_assignee(issue, today=TODAY + timedelta(days=2)).user == developer
    assert choose_assignee(issue, today=TODAY + timedelta(days=3)).user == dana


def test_owner_away_falls_through_to_the_next_rule(project, reporter, developer, manager):
    rule(project, owner=developer)
    rule(project, position=1, owner=manager)
    Availability.objects.create(user=developer, away_until=TODAY)
    choice = choose_assignee(make_issue(project, reporter), today=TODAY)
    assert choice.user == manager


def test_nobody_available_says_why(project, reporter, developer):
    rule(project, owner=developer)
    Availability.objects.create(user=developer, away_until=TODAY)
    choice = choose_assignee(make_issue(project, reporter), today=TODAY)
    assert choice.user is None
    assert "Developer is unavailable" in choice.why
    assert choose_assignee(make_issue(project, reporter), today=TODAY + timedelta(days=1)).user


def test_reporters_and_non_members_are_never_chosen(project, reporter, other_project, outsider):
    team = TeamFactory(name="Mixed")
    team.members.add(reporter, outsider)
    rule(project, team=team)
    assert choose_assignee(make_issue(project, reporter), today=TODAY).user is None


def test_auto_assign_sets_owner_and_records_which_rule_chose_whom(project, reporter, developer):
    r = rule(project, owner=developer)
    issue = make_issue(project, reporter)
    auto_assign_issue(issue, today=TODAY)
    issue.refresh_from_db()
    assert issue.owner == developer
    assert issue.status == "new"  # New -> Assigned is the workflows app's move
    event = IssueEvent.objects.get(issue=issue, kind=EventKind.CHANGED, field="owner")
    assert event.actor is None
    assert event.data["owner_id"] == developer.pk
    assert event.data["rule"] == r.pk
    assert "names Developer" in event.data["why"]


def test_auto_assign_keeps_an_existing_owner(project, reporter, developer, tester):
    rule(project, owner=developer)
    issue = make_issue(project, reporter, owner=tester)
    auto_assign_issue(issue, today=TODAY)
    issue.refresh_from_db()
    assert issue.owner == tester
    assert not IssueEvent.objects.filter(issue=issue, field="owner").exists()


def test_issue_filed_from_an_event_is_routed_by_its_component_tag(send, project, developer, crew):
    team, _ = crew
    rule(project, match_component="payments", owner=developer)
    send({"title": "Card declined", "tags": {"component": "payments"}})
    issue = Issue.objects.get()
    assert issue.owner == developer
    assert IssueEvent.objects.filter(issue=issue, field="owner").exists()


def test_manager_adds_and_removes_rules(client, manager, developer, team):
    client.force_login(manager)
    url = reverse("intake_rules", args=["WEB"])
    response = client.post(
        url, {"position": 1, "match_component": "search", "match_label": "", "team": team.pk}
    )
    assert response.status_code == 302
    created = AssignmentRule.objects.get()
    assert "component “search” → team Core" in client.get(url).text
    both = client.post(url, {"position": 2, "owner": developer.pk, "team": team.pk})
    assert both.status_code == 400
    assert "Choose either an owner or a team" in both.text
    client.post(reverse("intake_rule_delete", args=["WEB", created.pk]))
    assert AssignmentRule.objects.count() == 0


def test_developer_cannot_edit_rules(client, developer, project):
    client.force_login(developer)
    url = reverse("intake_rules", args=["WEB"])
    assert client.get(url).status_code == 200
    assert client.post(url, {"position": 1, "owner": developer.pk}).status_code == 403
    assert AssignmentRule.objects.count() == 0


def test_people_mark_themselves_out_of_office(client, developer):
    client.force_login(developer)
    url = reverse("intake_availability")
    past = client.post(url, {"away_until": "2000-01-01"})
    assert past.status_code == 400
    assert "Choose today or a later date." in past.text
    future = (timezone.localdate() + timedelta(days=5)).isoformat()
    response = client.post(url, {"away_until": future, "note": "Holiday"}, follow=True)
    assert "Your availability was saved." in response.text
    assert Availability.objects.get(user=developer).away_until.isoformat() == future
    set_availability(developer, away_until=None)
    assert Availability.objects.get(user=developer).away_until is None
