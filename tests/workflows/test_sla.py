"""The SLA engine: clock start, checkpoints, holds, recompute on priority change, paused
statuses, stop (met/missed), reopen (new cycle), and stage durations."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from issues.models import EventKind, IssueEvent, Priority, Severity, Status
from tests.factories import make_issue
from workflows.models import ClockEvent, SlaCheckpoint, SlaCycle, SlaPolicy
from workflows.selectors import SlaState, sla_state, sla_summary, stage_durations
from workflows.services import (
    WorkflowError,
    hold_sla_clock,
    recompute_sla,
    release_sla_hold,
    sla_change_needs_reason,
    transition_issue,
)

MON = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # a Monday


def at(hours=0, minutes=0):
    return MON + timedelta(hours=hours, minutes=minutes)


def checkpoints(issue, cycle=1):
    return {
        (c.kind, c.threshold): c.due_at
        for c in SlaCheckpoint.objects.filter(issue=issue, cycle=cycle)
    }


@pytest.fixture
def critical(project, reporter, manager):
    """High + Critical: 4 h on a 24x7 clock, response in 1 h, warning at 75 %."""
    with time_machine.travel(MON, tick=False):
        return make_issue(project, reporter, priority=Priority.HIGH, severity=Severity.CRITICAL)


@pytest.mark.django_db
def test_clock_starts_on_create_with_default_policy(critical, project):
    policy = SlaPolicy.objects.get(project=project)
    assert policy.version == 1
    critical.refresh_from_db()
    assert critical.resolution_due_at == at(4)
    assert critical.at_risk_at == at(3)
    assert critical.response_due_at == at(1)
    assert checkpoints(critical) == {
        ("resolution_breach", 0): at(4),
        ("warning", 75): at(3),
        ("response_breach", 0): at(1),
    }
    assert ClockEvent.objects.filter(issue=critical, kind="started").count() == 1
    # Creating an issue writes no extra audit row besides CREATED.
    # Creation is one record (plus the reporter's automatic watch), not an SLA entry.
    kinds = list(critical.events.values_list("kind", flat=True))
    assert [k for k in kinds if k != "watched"] == ["created"]


@pytest.mark.django_db
def test_business_hours_deadline_across_a_weekend(project, reporter):
    friday = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    with time_machine.travel(friday, tick=False):
        issue = make_issue(project, reporter, priority=Priority.MEDIUM, severity=Severity.MAJOR)
    issue.refresh_from_db()
    # 24 business hours, Mon-Fri 09-17 UTC: 2 h Fri, 8 h Mon, 8 h Tue, 6 h Wed.
    assert issue.resolution_due_at == datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    assert issue.at_risk_at == datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # 18 h = 75 %


@pytest.mark.django_db
def test_state_moves_on_track_at_risk_breached(critical):
    critical.refresh_from_db()
    assert sla_state(critical, at(1)) == SlaState.ON_TRACK
    assert sla_state(critical, at(3, 1)) == SlaState.AT_RISK
    assert sla_state(critical, at(4, 1)) == SlaState.BREACHED
    with time_machine.travel(at(6), tick=False):
        summary = sla_summary(critical)
    assert summary.text == "breached 2 h ago"
    with time_machine.travel(at(0, 48), tick=False):
        assert sla_summary(critical).text == "due in 3 h 12 min of clock time"


@pytest.mark.django_db
def test_response_checkpoint_cleared_on_assign(critical, manager, developer):
    with time_machine.travel(at(0, 30), tick=False):
        transition_issue(critical, Status.ASSIGNED, actor=manager, owner=developer.pk)
    assert checkpoints(critical)[("response_breach", 0)] is None
    cycle = SlaCycle.objects.get(issue=critical)
    assert (cycle.responded_at, cycle.response_outcome) == (at(0, 30), "met")


@pytest.mark.django_db
def test_hold_pauses_and_release_moves_the_deadline(critical, manager, developer, tester):
    with time_machine.travel(at(0, 30), tick=False):
        transition_issue(critical, Status.ASSIGNED, actor=manager, owner=developer.pk)
    with time_machine.travel(at(1), tick=False):
        hold_sla_clock(critical, actor=developer, reason="waiting_on_vendor", note="ticket 42")
    critical.refresh_from_db()
    assert critical.sla_paused_at == at(1)
    assert sla_state(critical, at(5)) == SlaState.PAUSED
    # Not-yet-reached checkpoints wait; the sweep cannot fire them while paused.
    assert checkpoints(critical)[("resolution_breach", 0)] is None
    assert checkpoints(critical)[("warning", 75)] is None
    with time_machine.travel(at(2), tick=False):
        summary = sla_summary(critical)
        assert summary.paused_reason == "Waiting on vendor"
        assert summary.text == "paused with 3 h left"
        with pytest.raises(WorkflowError, match="already on hold"):
            hold_sla_clock(critical, actor=manager, reason="waiting_on_reporter")
        with pytest.raises(WorkflowError, match="owner or a Manager"):
            release_sla_hold(critical, actor=tester)
    with time_machine.travel(at(3), tick=False):
        release_sla_hold(critical, actor=manager)
    critical.refresh_from_db()
    assert critical.sla_paused_at is None
    assert critical.resolution_due_at == at(6)
    assert checkpoints(critical)[("resolution_breach", 0)] == at(6)
    assert checkpoints(critical)[("warning", 75)] == at(5)
    holds = IssueEvent.objects.filter(issue=critical, kind=EventKind.SLA, field="sla_hold")
    assert [e.data["action"] for e in holds] == ["hold", "release"]
    with pytest.raises(WorkflowError, match="not on hold"):
        release_sla_hold(critical, actor=manager)


@pytest.mark.django_db
def test_hold_reason_must_be_typed(critical, manager):
    with pytest.raises(WorkflowError) as err:
        hold_sla_clock(critical, actor=manager, reason="coffee")
    assert err.value.field == "reason"


@pytest.mark.django_db
def test_priority_change_asks_for_a_reason_and_recomputes(critical, manager):
    assert not sla_change_needs_reason(critical, priority=Priority.HIGH, severity=4)
    assert sla_change_needs_reason(critical, priority=Priority.MEDIUM, severity=4)
    critical.priority = Priority.MEDIUM  # 8 h for Medium + Critical
    critical.save(update_fields=["priority"])
    with time_machine.travel(at(2), tick=False):
        recompute_sla(critical, actor=manager, reason="Customer has a workaround")
    critical.refresh_from_db()
    assert critical.resolution_due_at == at(8)
    assert critical.at_risk_at == at(6)
    assert checkpoints(critical)[("resolution_breach", 0)] == at(8)
    event = IssueEvent.objects.get(issue=critical, kind=EventKind.SLA)
    assert event.data["reason"] == "Customer has a workaround"
    assert event.old_value == at(4).isoformat() and event.new_value == at(8).isoformat()
    assert ClockEvent.objects.filter(issue=critical, kind="target_changed").count() == 1
    # Recomputing without a change records nothing.
    recompute_sla(critical, actor=manager, reason="again")
    assert IssueEvent.objects.filter(issue=critical, kind=EventKind.SLA).count() == 1


@pytest.mark.django_db
def test_severity_change_switches_to_business_hours(critical, manager):
    assert sla_change_needs_reason(critical, priority=Priority.HIGH, severity=Severity.MAJOR)
    critical.severity = Severity.MAJOR
    critical.save(update_fields=["severity"])
    recompute_sla(critical, actor=manager, reason="Only one shop affected")
    critical.refresh_from_db()
    # High + Major: 8 business hours from Monday 10:00 -> Tuesday 10:00.
    assert critical.resolution_due_at == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_flagged_checkpoints_are_never_moved(critical, manager):
    SlaCheckpoint.objects.filter(issue=critical, kind="warning").update(flagged_at=at(3))
    critical.priority = Priority.LOW  # 16 h
    critical.save(update_fields=["priority"])
    recompute_sla(critical, actor=manager, reason="Lower priority")
    assert checkpoints(critical)[("warning", 75)] == at(3)
    assert checkpoints(critical)[("resolution_breach", 0)] == at(16)


@pytest.mark.django_db
def test_paused_statuses_do_not_count(project, reporter, manager, developer, tester):
    SlaPolicy.objects.create(project=project, version=1, paused_statuses=["retest"])
    with time_machine.travel(MON, tick=False):
        issue = make_issue(project, reporter, priority=Priority.HIGH, severity=Severity.CRITICAL)
    with time_machine.travel(at(0, 10), tick=False):
        transition_issue(issue, Status.ASSIGNED, actor=manager, owner=developer.pk)
        transition_issue(issue, Status.REVISE, actor=developer)
    with time_machine.travel(at(1), tick=False):
        transition_issue(issue, Status.RETEST, actor=developer, fix_summary="Fixed")
    issue.refresh_from_db()
    assert sla_state(issue, at(10)) == SlaState.PAUSED
    with time_machine.travel(at(3), tick=False):
        transition_issue(issue, Status.REVISE, actor=tester, failure="Nope")
    issue.refresh_from_db()
    assert issue.resolution_due_at == at(6)  # 2 h in Retest do not count
    with time_machine.travel(at(4), tick=False):
        transition_issue(issue, Status.RETEST, actor=developer, fix_summary="Really fixed")
    with time_machine.travel(at(5), tick=False):
        transition_issue(issue, Status.FIXED, actor=tester)
    cycle = SlaCycle.objects.get(issue=issue)
    assert (cycle.outcome, cycle.working_seconds, cycle.waiting_seconds) == (
        "met",
        2 * 3600,
        3 * 3600,
    )


@pytest.mark.django_db
def test_fixed_stops_the_clock_missed_and_reopen_starts_a_new_cycle(
    critical, manager, developer, tester, reporter, walk
):
    with time_machine.travel(at(1), tick=False):
        walk(critical, Status.RETEST)
    with time_machine.travel(at(5), tick=False):
        transition_issue(critical, Status.FIXED, actor=tester)
    first = SlaCycle.objects.get(issue=critical, number=1)
    assert (first.outcome, first.stopped_at) == ("missed", at(5))
    assert all(due is None for due in checkpoints(critical).values())
    with time_machine.travel(at(6), tick=False):
        walk(critical, Status.CLOSED)
        summary = sla_summary(critical)
    assert summary.label == "Missed"
    with time_machine.travel(at(24), tick=False):
        transition_issue(critical, Status.ASSIGNED, actor=reporter, reopen_reason="Back")
    critical.refresh_from_db()
    assert critical.sla_cycle == 2
    assert critical.resolution_due_at == at(28)
    assert checkpoints(critical, cycle=2) == {
        ("resolution_breach", 0): at(28),
        ("warning", 75): at(27),
    }
    # The finished cycle is never rewritten.
    first.refresh_from_db()
    assert (first.outcome, first.stopped_at) == ("missed", at(5))
    assert sla_state(critical, at(25)) == SlaState.ON_TRACK
    with time_machine.travel(at(25), tick=False):
        transition_issue(critical, Status.REVISE, actor=developer)
        transition_issue(critical, Status.RETEST, actor=developer, fix_summary="x")
        transition_issue(critical, Status.FIXED, actor=tester)
    assert SlaCycle.objects.get(issue=critical, number=2).outcome == "met"


@pytest.mark.django_db
def test_dismissing_stops_the_clock(critical, manager):
    with time_machine.travel(at(1), tick=False):
        transition_issue(critical, Status.CLOSED, actor=manager, resolution="invalid")
    assert SlaCycle.objects.get(issue=critical).outcome == "met"
    assert SlaCheckpoint.objects.filter(issue=critical, due_at__isnull=False).count() == 0


@pytest.mark.django_db
def test_stage_durations_per_cycle(critical, manager, developer, tester, reporter):
    with time_machine.travel(at(1), tick=False):
        transition_issue(critical, Status.ASSIGNED, actor=manager, owner=developer.pk)
    with time_machine.travel(at(2), tick=False):
        transition_issue(critical, Status.REVISE, actor=developer)
    with time_machine.travel(at(5), tick=False):
        transition_issue(critical, Status.RETEST, actor=developer, fix_summary="x")
    with time_machine.travel(at(5, 30), tick=False):
        transition_issue(critical, Status.REVISE, actor=tester, failure="y")
    with time_machine.travel(at(6), tick=False):
        transition_issue(critical, Status.RETEST, actor=developer, fix_summary="x")
    with time_machine.travel(at(7), tick=False):
        transition_issue(critical, Status.FIXED, actor=tester)
    with time_machine.travel(at(8), tick=False):
        transition_issue(
            critical,
            Status.CLOSED,
            actor=reporter,
            resolution_summary="ok",
            root_cause="code",
            lessons_learned="z",
        )
    with time_machine.travel(at(10), tick=False):
        transition_issue(critical, Status.ASSIGNED, actor=manager, reopen_reason="again")
    cycles = stage_durations(critical, now=at(11))
    assert [c.number for c in cycles] == [1, 2]
    assert cycles[0].stages == [
        ("New", timedelta(hours=1)),
        ("Assigned", timedelta(hours=1)),
        ("Revise", timedelta(hours=3, minutes=30)),
        ("Retest", timedelta(hours=1, minutes=30)),
        ("Fixed", timedelta(hours=1)),
        ("Closed", timedelta(hours=2)),
    ]
    assert cycles[0].outcome == "missed"
    assert cycles[1].stages == [("Assigned", timedelta(hours=1))]


@pytest.mark.django_db
def test_moving_checkpoints_never_touches_a_row_the_sweep_claimed(critical):
    from workflows.sla import CheckpointChanges, write_checkpoint_changes

    row = SlaCheckpoint.objects.get(issue=critical, kind="warning")
    SlaCheckpoint.objects.filter(pk=row.pk).update(flagged_at=at(3))  # the sweep wins the race
    write_checkpoint_changes(CheckpointChanges(move=[(row, at(9))]))
    row.refresh_from_db()
    assert (row.due_at, row.flagged_at) == (at(3), at(3))


@pytest.mark.django_db
def test_policy_version_applies_to_open_issues_only(project, reporter, manager, walk):
    from workflows.selectors import policy_of
    from workflows.services import apply_sla_policy

    with time_machine.travel(MON, tick=False):
        running = make_issue(project, reporter, priority=Priority.HIGH, severity=Severity.CRITICAL)
        done = make_issue(project, reporter, priority=Priority.HIGH, severity=Severity.CRITICAL)
        walk(done, Status.FIXED)
    draft = policy_of(project)
    draft.resolution_target_seconds = {**draft.resolution_target_seconds, "3:4": 2 * 3600}
    draft.warnings = [50, -30]
    with time_machine.travel(at(1), tick=False):
        saved = apply_sla_policy(project, actor=manager, draft=draft, note="Faster")
    assert saved.version == 2
    running.refresh_from_db()
    assert running.resolution_due_at == at(2)
    assert checkpoints(running) == {
        ("resolution_breach", 0): at(2),
        ("warning", 50): at(1),
        ("warning", -30): at(1, 30),
        ("response_breach", 0): at(1),
    }
    assert running.at_risk_at == at(1)
    finished = SlaCycle.objects.get(issue=done)
    assert (finished.policy.version, finished.outcome) == (1, "met")
    assert not IssueEvent.objects.filter(issue=done, kind=EventKind.SLA).exists()
