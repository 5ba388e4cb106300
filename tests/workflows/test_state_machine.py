"""A stateful property test of the lifecycle and the SLA clock, through the real services.

Random transitions, holds, releases, priority changes and reopens by random roles, with
time moved by time_machine and the SLA sweep run in between. After every step:
- the status is one the transition table can reach, and equals the model's expectation (a
  refused transition changes nothing: status, version, owner, deadlines);
- while the clock is on hold the SLA state is "paused", whatever the time; on release the
  deadline has moved by exactly the time held (a 24×7 policy here: paused time never counts);
- the sweep never flags (alerts about) a stopped cycle, a held clock or a closed issue.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from issues.models import Priority, Severity, Status
from issues.services import IssueError
from notifications.models import Kind, Notification
from notifications.services import sweep_sla
from tests.factories import make_issue
from workflows.errors import WorkflowError
from workflows.issue_use_cases import update_issue
from workflows.models import HoldReason, SlaCheckpoint, SlaCycle
from workflows.selectors import SlaState, sla_state
from workflows.services import current_policy, hold_sla_clock, release_sla_hold, transition_issue
from workflows.transitions import TRANSITIONS, find_transition

from .conftest import data_for

pytestmark = pytest.mark.django_db(transaction=False)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
SLA_KINDS = (Kind.SLA_AT_RISK, Kind.SLA_BREACHED, Kind.SLA_ESCALATED)
ROLES = ("manager", "owner", "other_dev", "tester", "reporter", "outsider", "admin")


def reachable() -> set[str]:
    seen, todo = {Status.NEW.value}, [Status.NEW.value]
    while todo:
        here = todo.pop()
        for t in TRANSITIONS:
            if here in t.sources and t.target not in seen:
                seen.add(t.target)
                todo.append(t.target)
    return seen


def _row(issue):
    issue.refresh_from_db()
    return (
        issue.status,
        issue.version,
        issue.owner_id,
        issue.resolution_due_at,
        issue.sla_paused_at,
        issue.sla_cycle,
    )


def test_random_lifecycles_keep_every_invariant(project, cast):
    policy = current_policy(project)
    policy.business_severities = []  # 24x7: held time is wall-clock time
    policy.save(update_fields=["business_severities"])
    legal = reachable()
    assert legal == set(Status.values)

    class Lifecycle(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.traveller = time_machine.travel(START, tick=False)
            self.clock = self.traveller.start()
            self.issue = make_issue(project, cast["reporter"], severity=Severity.MAJOR)
            self.status = Status.NEW.value
            self.held_since = None
            self.due_at_hold = None
            self.seen_notes = set(Notification.objects.values_list("pk", flat=True))

        def teardown(self):
            self.traveller.stop()

        @rule(to=st.sampled_from(Status.values), role=st.sampled_from(ROLES))
        def transition(self, to, role):
            row = find_transition(self.status, to)
            before = _row(self.issue)
            try:
                transition_issue(
                    self.issue, to, actor=cast[role], **(data_for(row.name, cast) if row else {})
                )
            except WorkflowError:
                assert _row(self.issue) == before, f"refused move to {to} by {role} changed it"
                return
            assert row is not None, f"{self.status} -> {to} is not in the table"
            self.status = to
            self.issue.refresh_from_db()
            assert self.issue.status == self.status
            if self.status == Status.CLOSED:
                self.held_since = self.due_at_hold = None
                cycle = SlaCycle.objects.get(issue=self.issue, number=self.issue.sla_cycle)
                assert cycle.stopped_at is not None

        @rule(role=st.sampled_from(ROLES), reason=st.sampled_from(HoldReason.values))
        def hold(self, role, reason):
            before = _row(self.issue)
            try:
                hold_sla_clock(self.issue, actor=cast[role], reason=reason)
            except WorkflowError:
                assert _row(self.issue) == before
                return
            assert self.held_since is None and self.status != Status.CLOSED
            self.issue.refresh_from_db()
            self.held_since = timezone.now()
            self.due_at_hold = before[3]

        @rule(role=st.sampled_from(ROLES))
        def release(self, role):
            before = _row(self.issue)
            try:
                release_sla_hold(self.issue, actor=cast[role])
            except WorkflowError:
                assert _row(self.issue) == before
                return
            assert self.held_since is not None
            self.issue.refresh_from_db()
            if self.due_at_hold is not None:
                # A deadline already reached when the hold began stays where it was.
                reached = self.due_at_hold <= self.held_since
                held = timedelta(0) if reached else timezone.now() - self.held_since
                assert self.issue.resolution_due_at == self.due_at_hold + held, (
                    "held time counted against the deadline",
                    self.due_at_hold,
                    held,
                    self.issue.resolution_due_at,
                    list(
                        self.issue.events.order_by("pk").values_list(
                            "created_at", "kind", "field", "old_value", "new_value"
                        )
                    ),
                )
            self.held_since = self.due_at_hold = None

        @rule(role=st.sampled_from(ROLES), priority=st.sampled_from(Priority.values))
        def change_priority(self, role, priority):
            self.issue.refresh_from_db()
            before = _row(self.issue)
            try:
                update_issue(
                    self.issue,
                    actor=cast[role],
                    changes={"priority": priority},
                    expected_version=self.issue.version,
                    reason="Customer escalated",
                )
            except (IssueError, WorkflowError):
                assert _row(self.issue) == before
                return
            # A new target while held: the deadline at release is not the one at hold time.
            self.due_at_hold = None

        @rule(minutes=st.integers(min_value=1, max_value=3 * 24 * 60))
        def advance(self, minutes):
            self.clock.shift(timedelta(minutes=minutes))

        @rule()
        def sweep(self):
            now = timezone.now()
            sweep_sla(now=now)
            new = Notification.objects.filter(issue=self.issue, kind__in=SLA_KINDS).exclude(
                pk__in=self.seen_notes
            )
            self.issue.refresh_from_db()
            for note in new.select_related("checkpoint"):
                self.seen_notes.add(note.pk)
                cycle = SlaCycle.objects.get(issue=self.issue, number=note.checkpoint.cycle)
                assert cycle.stopped_at is None, "a finished cycle was flagged"
                assert self.issue.status in {s for s in Status.values if s != Status.CLOSED}, (
                    "a closed issue was flagged"
                )
                assert self.held_since is None, "a held clock was flagged"
            stopped = SlaCycle.objects.filter(issue=self.issue, stopped_at__isnull=False)
            for cycle in stopped:
                assert (
                    not SlaCheckpoint.objects.filter(
                        issue=self.issue, cycle=cycle.number, flagged_at__gt=cycle.stopped_at
                    )
                    .exclude(notifications__isnull=True)
                    .exists()
                )

        @invariant()
        def status_is_legal(self):
            self.issue.refresh_from_db()
            assert self.issue.status in legal
            assert self.issue.status == self.status

        @precondition(lambda self: self.held_since is not None)
        @invariant()
        def held_clock_is_paused(self):
            assert self.issue.sla_paused_at is not None
            for later in (timedelta(0), timedelta(days=30)):
                assert sla_state(self.issue, timezone.now() + later) == SlaState.PAUSED

        @precondition(lambda self: self.status == Status.CLOSED)
        @invariant()
        def closed_issue_has_no_running_clock(self):
            assert sla_state(self.issue, timezone.now() + timedelta(days=365)) == SlaState.NONE
            assert not SlaCycle.objects.filter(issue=self.issue, stopped_at__isnull=True).exists()

    run_state_machine_as_test(
        Lifecycle,
        settings=settings(
            max_examples=15,
            stateful_step_count=20,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
        ),
    )
