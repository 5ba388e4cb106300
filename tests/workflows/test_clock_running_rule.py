"""One rule for "is the SLA clock running for this issue": the in-memory test, the queryset
filter, the SLA state shown on pages and the sweep's alerts agree, for a running clock, one
on hold and a closed issue."""

import pytest

from issues.models import Issue, Status
from tests.factories import make_issue
from workflows.selectors import SlaState, clock_running, clock_running_condition, sla_state
from workflows.services import hold_sla_clock

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("situation", ["running", "on hold", "closed"])
def test_every_reader_of_the_clock_agrees(project, reporter, developer, situation):
    issue = make_issue(project, reporter, owner=developer)
    assert issue.resolution_due_at is not None
    if situation == "on hold":
        hold_sla_clock(issue, actor=developer, reason="waiting_on_vendor")
    elif situation == "closed":
        Issue.objects.filter(pk=issue.pk).update(status=Status.CLOSED)
    issue.refresh_from_db()

    running = clock_running(issue)
    assert running == (situation == "running")
    assert Issue.objects.filter(clock_running_condition(), pk=issue.pk).exists() == running
    state = sla_state(issue)
    if situation == "closed":
        assert state == SlaState.NONE
    else:
        assert (state != SlaState.PAUSED) == running
