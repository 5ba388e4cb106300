"""Auto-assignment rules: owner or team by component/label, least open work, out of office."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from intake.models import AssignmentRule, Availability
from intake.services import create_assignment_rule, set_availability
from issues.models import EventKind, Issue, IssueEvent, Label
from projects.models import Role
from tests.factories import MembershipFactory, TeamFactory, UserFactory, make_issue
from workflows.assignment import auto_assign_issue, choose_assignee
from workflows.services import transition_issue

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
    """Team Core = developer, dana and erin (Developers) + tester (never an owner: the
    lifecycle's owners are Developers)."""
    dana = UserFactory(username="dana")
    erin = UserFactory(username="erin")
    for user in (dana, erin):
        MembershipFactory(project=project, user=user, role=Role.DEVELOPER)
    team = TeamFactory(name="Core")
    team.members.add(developer, tester, dana, erin)
    return team, dana, erin


@pytest.fixture
def target(project, reporter):
    """The issue to route, filed before any rule exists (filing runs the rules)."""
    return make_issue(project, reporter)


@pytest.fixture
def dana_dev(project):
    dana = UserFactory(username="dana")
    MembershipFactory(project=project, user=dana, role=Role.DEVELOPER)
    return dana


def test_component_rule_names_the_owner(project, target, developer, dana_dev):
    rule(project, match_component="checkout", owner=developer)
    rule(project, position=1, owner=dana_dev)  # catch-all
    choice = choose_assignee(target, component="Checkout", today=TODAY)
    assert choice.user == developer
    assert "component “checkout”" in choice.why
    other = choose_assignee(target, component="search", today=TODAY)
    assert other.user == dana_dev


def test_label_rule(project, target, developer):
    rule(project, match_label="ui", owner=developer)
    assert choose_assignee(target, today=TODAY).user is None
    target.labels.add(Label.objects.create(project=project, name="UI"))
    choice = choose_assignee(target, today=TODAY)
    assert choice.user == developer
    assert choice.rule.match_label == "ui"


def test_only_developers_are_chosen(project, target, tester, manager):
    rule(project, owner=tester)
    rule(project, position=1, owner=manager)
    assert choose_assignee(target, today=TODAY).user is None


def test_team_rule_picks_least_open_work_weighted_by_severity(
    project, target, reporter, developer, crew
):
    team, dana, erin = crew
    # developer: one Critical (8); erin: three Minor (6); dana: two Major (8).
    make_issue(project, reporter, owner=developer, severity=4)
    for _ in range(3):
        make_issue(project, reporter, owner=erin, severity=2)
    for _ in range(2):
        make_issue(project, reporter, owner=dana, severity=3)
    rule(project, team=team)
    choice = choose_assignee(target, today=TODAY)
    assert choice.user == erin
    assert "least open work in team Core (3 open, weighted 6)" in choice.why


def test_closed_work_does_not_count(project, target, reporter, developer, crew):
    team, dana, erin = crew
    for user in (developer, dana):
        make_issue(project, reporter, owner=user, severity=1)
    big = make_issue(project, reporter, owner=erin, severity=4)
    Issue.objects.filter(pk=big.pk).update(status="closed")
    make_issue(project, reporter, owner=erin, severity=1)
    rule(project, team=team)
    # All three have weight 1 and one open issue: the username decides (dana < developer < erin).
    assert choose_assignee(target, today=TODAY).user == dana


def test_out_of_office_members_are_passed_over_until_the_date(
    project, target, reporter, developer, crew
):
    team, dana, erin = crew
    make_issue(project, reporter, owner=developer, severity=1)
    make_issue(project, reporter, owner=erin, severity=1)
    rule(project, team=team)
    Availability.objects.create(user=dana, away_until=TODAY + timedelta(days=2))
    assert choose_assignee(target, today=TODAY).user == developer
    assert choose_assignee(target, today=TODAY + timedelta(days=2)).user == developer
    assert choose_assignee(target, today=TODAY + timedelta(days=3)).user == dana


def test_owner_away_falls_through_to_the_next_rule(project, target, developer, dana_dev):
    rule(project, owner=developer)
    rule(project, position=1, owner=dana_dev)
    Availability.objects.create(user=developer, away_until=TODAY)
    assert choose_assignee(target, today=TODAY).user == dana_dev


def test_nobody_available_says_why(project, target, developer):
    rule(project, owner=developer)
    Availability.objects.create(user=developer, away_until=TODAY)
    choice = choose_assignee(target, today=TODAY)
    assert choice.user is None
    assert "Developer is unavailable" in choice.why
    assert choose_assignee(target, today=TODAY + timedelta(days=1)).user


def test_reporters_and_non_members_are_never_chosen(project, target, reporter, outsider):
    team = TeamFactory(name="Mixed")
    team.members.add(reporter, outsider)
    rule(project, team=team)
    assert choose_assignee(target, today=TODAY).user is None


def test_auto_assign_moves_new_to_assigned_and_records_which_rule_chose_whom(
    project, target, developer
):
    r = rule(project, owner=developer)
    auto_assign_issue(target, today=TODAY)
    target.refresh_from_db()
    assert (target.owner, target.status) == (developer, "assigned")
    event = IssueEvent.objects.get(issue=target, kind=EventKind.TRANSITIONED)
    assert event.actor is None
    assert (event.old_value, event.new_value) == ("new", "assigned")
    assert event.data["transition"] == "auto_assign"
    assert event.data["owner_id"] == developer.pk
    assert event.data["rule"] == r.pk
    assert "names Developer" in event.data["why"]
    # The SLA clock counts the assignment as the response.
    assert target.sla_cycles.get().responded_at is not None


def test_auto_assign_keeps_an_existing_owner(project, reporter, developer, dana_dev):
    rule(project, owner=developer)
    issue = make_issue(project, reporter, owner=dana_dev)
    auto_assign_issue(issue, today=TODAY)
    issue.refresh_from_db()
    assert (issue.owner, issue.status) == (dana_dev, "new")
    assert not IssueEvent.objects.filter(issue=issue, field="owner").exists()


def test_auto_assignment_can_be_overridden(project, target, developer, dana_dev, manager):
    rule(project, owner=developer)
    auto_assign_issue(target, today=TODAY)
    transition_issue(target, "new", actor=manager, reason="Wrong person")
    transition_issue(target, "assigned", actor=manager, owner=dana_dev.pk)
    target.refresh_from_db()
    assert (target.owner, target.status) == (dana_dev, "assigned")


def test_issue_filed_in_the_ui_is_assigned_by_the_rules(client, project, reporter, developer):
    label_ui = Label.objects.create(project=project, name="UI")
    rule(project, match_label="ui", owner=developer)
    client.force_login(reporter)
    response = client.post(
        reverse("issue_new"),
        {
            "project": project.pk,
            "title": "Button misaligned",
            "type": "bug",
            "priority": 2,
            "severity": 2,
            "labels": [label_ui.pk],
        },
    )
    assert response.status_code == 302, response.text
    issue = Issue.objects.get(title="Button misaligned")
    assert (issue.owner, issue.status) == (developer, "assigned")
    assert (
        "label “ui”" in IssueEvent.objects.get(issue=issue, kind=EventKind.TRANSITIONED).data["why"]
    )


def test_team_rule_assigns_end_to_end(project, reporter, developer, crew):
    team, dana, erin = crew
    make_issue(project, reporter, owner=developer, severity=1)
    make_issue(project, reporter, owner=dana, severity=1)
    rule(project, team=team)
    issue = make_issue(project, reporter, title="Slow page")
    issue.refresh_from_db()
    assert (issue.owner, issue.team, issue.status) == (erin, team, "assigned")
    assert IssueEvent.objects.get(issue=issue, field="team").actor is None


def test_issue_filed_from_an_event_is_routed_by_its_component_tag(send, project, developer, crew):
    team, _dana, _erin = crew
    rule(project, match_component="payments", owner=developer)
    rule(project, position=1, team=team)
    send({"title": "Card declined", "tags": {"component": "payments"}})
    issue = Issue.objects.get()
    assert (issue.owner, issue.status) == (developer, "assigned")
    event = IssueEvent.objects.get(issue=issue, kind=EventKind.TRANSITIONED)
    assert event.actor is None
    assert "component “payments”" in event.data["why"]
    # Another component falls through to the team rule.
    send({"title": "Search slow", "tags": {"component": "search"}})
    other = Issue.objects.get(title="Search slow")
    assert other.status == "assigned"
    assert other.team == team


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
