import pytest
from django.core.management import call_command

from issues.models import Issue, IssueEvent, Status
from workflows.models import SlaPolicy
from workflows.selectors import SlaState, annotate_sla_state


@pytest.mark.django_db
def test_demo_issues_reach_every_status_through_the_workflow(settings):
    settings.DEBUG = True
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent
    for key in ("WEB", "API"):
        statuses = set(Issue.objects.filter(project__key=key).values_list("status", flat=True))
        assert statuses == set(Status.values), key
    assert SlaPolicy.objects.count() == 3
    assert SlaPolicy.objects.get(project__key="WEB").holiday_country == "DE"
    closed = Issue.objects.get(project__key="WEB", status=Status.CLOSED, resolution="fixed")
    transitions = IssueEvent.objects.filter(issue=closed, kind="transitioned")
    assert [(e.new_value, e.actor.username) for e in transitions] == [
        ("assigned", "manager"),
        ("revise", "developer"),
        ("retest", "developer"),
        ("fixed", "tester"),
        ("closed", "reporter"),
    ]
    states = set(
        annotate_sla_state(Issue.objects.filter(project__key="WEB")).values_list(
            "sla_state", flat=True
        )
    )
    assert {SlaState.ON_TRACK, SlaState.AT_RISK, SlaState.BREACHED, SlaState.PAUSED} <= states
