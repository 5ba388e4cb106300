"""Auto-assignment by component: the lead when available and eligible as owner, else the
least-loaded available Developer of the component's default team; rules may set one."""

from datetime import timedelta

import pytest
from django.utils import timezone

from intake.services import create_assignment_rule, set_availability
from issues.models import EventKind, IssueEvent, Severity, Status
from projects.models import Role
from projects.services import create_component
from tests.factories import MembershipFactory, TeamFactory, UserFactory, make_issue
from workflows.assignment import choose_assignee

pytestmark = pytest.mark.django_db


@pytest.fixture
def core(project, developer):
    dana = UserFactory(username="dana")
    MembershipFactory(project=project, user=dana, role=Role.DEVELOPER)
    team = TeamFactory(name="Payments")
    team.members.add(developer, dana)
    return team, dana


def test_a_new_issue_goes_to_its_components_lead(project, manager, reporter, developer):
    checkout = create_component(project, actor=manager, name="Checkout", lead=developer)
    issue = make_issue(project, reporter, component=checkout)
    issue.refresh_from_db()
    assert (issue.owner, issue.status) == (developer, Status.ASSIGNED)
    event = IssueEvent.objects.filter(issue=issue, kind=EventKind.TRANSITIONED).last()
    assert "Component “Checkout”: its lead Developer." in event.data["why"]


def test_an_away_lead_hands_over_to_the_least_loaded_of_the_team(
    project, manager, reporter, developer, core
):
    team, dana = core
    make_issue(project, reporter, owner=dana, severity=Severity.CRITICAL)
    checkout = create_component(
        project, actor=manager, name="Checkout", lead=dana, default_team=team
    )
    set_availability(dana, away_until=timezone.localdate() + timedelta(days=2))
    issue = make_issue(project, reporter, component=checkout)
    issue.refresh_from_db()
    assert issue.owner == developer
    assert issue.team == team  # the component's team, set as a team rule would


def test_a_lead_who_may_not_own_is_skipped_for_the_team(
    project, manager, reporter, developer, core
):
    team, dana = core
    make_issue(project, reporter, owner=developer, severity=Severity.MAJOR)
    checkout = create_component(
        project, actor=manager, name="Checkout", lead=manager, default_team=team
    )
    choice = choose_assignee(make_issue(project, manager, component=None), today=None)
    assert choice.user is None  # no rules, no component: nobody
    issue = make_issue(project, reporter, component=checkout)
    issue.refresh_from_db()
    assert issue.owner == dana  # the manager may not own; dana has less open work


def test_nobody_available_leaves_it_new_and_says_why(project, manager, reporter, developer):
    checkout = create_component(project, actor=manager, name="Checkout", lead=developer)
    set_availability(developer, away_until=timezone.localdate())
    issue = make_issue(project, reporter, component=checkout)
    issue.refresh_from_db()
    assert (issue.owner, issue.status) == (None, Status.NEW)
    choice = choose_assignee(issue)
    assert "lead of Checkout, is unavailable" in choice.why


def test_an_intake_rule_sets_the_component_and_routes_by_it(project, manager, reporter, developer):
    checkout = create_component(project, actor=manager, name="Checkout", lead=developer)
    create_assignment_rule(
        project,
        position=0,
        match_component="payments",
        match_label="",
        owner=None,
        team=None,
        component=checkout,
    )
    from workflows.issue_use_cases import create_issue

    issue = create_issue(project, reporter=reporter, title="From Sentry", component_tag="payments")
    issue.refresh_from_db()
    assert (issue.component, issue.owner) == (checkout, developer)
    assert IssueEvent.objects.filter(issue=issue, field="component", new_value="Checkout").exists()
