"""The SLA state the services keep step by step equals the state replayed from the ledger.

The services cache an issue's SLA state as each clock event happens: deadlines, the at-risk
moment and "paused since" on the issue and the cycle, pending checkpoints, and — at the moment
they happen — the response outcome and MTTA seconds, the resolution outcome and the working and
waiting time. `workflows.sla.replay_cycle` recomputes all of it from the ledger alone.

1. `test_incremental_state_equals_replay`: thousands of generated timelines (starts, status
   pauses, holds, responses, retargets, stops, reopened cycles; timestamps across weekends,
   public and explicit holidays and the 2026 DST changes of Berlin and New York; calendars with
   split days, night shifts over midnight, a shift over the 02:00 DST gap, and 24×7), fed one
   event at a time through the pure functions the services call (`derive_clock`,
   `deadlines_for`, `outcome_of`), checked after every event against the replay: deadlines,
   paused since, elapsed business time and paused wall time, outcomes, and the
   on-track/at-risk/breached/paused state at moments around every deadline.
2. `test_services_keep_the_replayed_state`: fewer timelines through the real services and
   database (create, assign, holds, status pauses, priority and severity changes, fix, reopen),
   every cached column and checkpoint compared with the replay of the stored ledger.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from issues.models import Issue, Priority, Severity, Status
from tests.factories import make_issue
from workflows.businesstime import OFFICE_HOURS, ZERO, BusinessCalendar
from workflows.issue_use_cases import update_issue
from workflows.models import (
    ClockEvent,
    ClockEventKind,
    CycleOutcome,
    HoldReason,
    PauseSource,
    SlaCheckpoint,
    SlaCycle,
)
from workflows.selectors import SlaState, sla_state
from workflows.services import (
    WorkflowError,
    current_policy,
    hold_sla_clock,
    release_sla_hold,
    transition_issue,
)
from workflows.sla import (
    Replay,
    deadlines_for,
    derive_clock,
    outcome_of,
    replay_cycle,
    warning_amount,
)
from workflows.transitions import transitions_from

from .conftest import data_for

WEEKDAYS = 5

CALENDARS = {
    "berlin office, DE holidays": BusinessCalendar(
        time_zone="Europe/Berlin", week=OFFICE_HOURS, country="DE"
    ),
    "new york split day, US holidays + one": BusinessCalendar(
        time_zone="America/New_York",
        week=(((8 * 60, 12 * 60), (13 * 60, 18 * 60)),) * WEEKDAYS + (((10 * 60, 14 * 60),), ()),
        holidays=frozenset({date(2026, 12, 31)}),
        country="US",
    ),
    "new york nights 22-06": BusinessCalendar(
        time_zone="America/New_York", week=(((22 * 60, 30 * 60),),) * WEEKDAYS + ((), ())
    ),
    "berlin 02-10 over the DST gap": BusinessCalendar(
        time_zone="Europe/Berlin", week=(((2 * 60, 10 * 60),),) * 7
    ),
    "24x7 berlin": BusinessCalendar(time_zone="Europe/Berlin", always=True),
}
# DST changes (US spring, EU spring, EU autumn, US autumn), Easter, Thanksgiving, Christmas.
ANCHORS = [
    datetime(2026, 3, 8, 7, 0, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
    datetime(2026, 4, 3, 8, 0, tzinfo=UTC),
    datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
    datetime(2026, 11, 1, 6, 0, tzinfo=UTC),
    datetime(2026, 11, 26, 14, 0, tzinfo=UTC),
    datetime(2026, 12, 24, 9, 0, tzinfo=UTC),
]
ACTIONS = ("pause", "resume") * 2 + ("hold", "release", "respond", "retarget") * 2 + ("stop",)
MINUTES = (30, 60, 240, 480, 960, 1440, 2400, 4800)

gaps = st.one_of(
    st.sampled_from([0, 1, 59, 60, 8 * 60, 24 * 60]),
    st.integers(min_value=0, max_value=4 * 24 * 60),
).map(lambda m: timedelta(minutes=m))
steps = st.lists(
    st.tuples(gaps, st.sampled_from(ACTIONS), st.sampled_from(MINUTES)), min_size=6, max_size=16
)


@dataclass
class Cached:
    """What the services hold for one cycle after each event (cycle row + issue cache)."""

    resolution_target_seconds: int
    response_target_seconds: int | None
    ledger: list = field(default_factory=list)
    responded_at: datetime | None = None
    response_outcome: str = ""
    response_seconds: int | None = None
    stopped_at: datetime | None = None
    outcome: str = ""
    working_seconds: int | None = None
    waiting_seconds: int | None = None


def _event(kind: str, at: datetime, source: str = "") -> ClockEvent:
    return ClockEvent(cycle=1, kind=kind, at=at, source=source)


def _expected_state(replay: Replay, resolution_target_seconds: int, warnings, moment) -> str:
    """On track / at risk / breached / paused from elapsed business time alone."""
    if replay.paused_since is not None:
        return SlaState.PAUSED
    target = timedelta(seconds=resolution_target_seconds)
    elapsed = replay.elapsed(moment)
    if elapsed >= target:
        return SlaState.BREACHED
    if any(elapsed >= warning_amount(target, int(t)) for t in warnings):
        return SlaState.AT_RISK
    return SlaState.ON_TRACK


@settings(
    max_examples=2500,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    calendar_name=st.sampled_from(sorted(CALENDARS)),
    anchor=st.sampled_from(ANCHORS),
    offset=st.integers(min_value=-3 * 24 * 60, max_value=2 * 24 * 60),
    resolution=st.sampled_from(MINUTES),
    response=st.sampled_from((None, 60, 240, 480)),
    paused_at_start=st.booleans(),
    warnings=st.sampled_from([(75,), (50, -30), ()]),
    timeline=steps,
)
def test_incremental_state_equals_replay(
    calendar_name, anchor, offset, resolution, response, paused_at_start, warnings, timeline
):
    calendar = CALENDARS[calendar_name]
    now = anchor + timedelta(minutes=offset)
    # response None: a reopened cycle (responded when it starts, no response target).
    cached = Cached(
        resolution_target_seconds=resolution * 60,
        response_target_seconds=None if response is None else response * 60,
    )
    cached.ledger.append(_event(ClockEventKind.STARTED, now))
    if response is None:
        cached.ledger.append(_event(ClockEventKind.RESPONDED, now))
        cached.responded_at = now
    status_paused = held = False
    if paused_at_start:
        cached.ledger.append(_event(ClockEventKind.PAUSED, now, PauseSource.STATUS))
        status_paused = True
    _check(cached, calendar, warnings, now)
    for gap, action, minutes in timeline:
        if cached.stopped_at is not None:
            break
        now += gap
        if action == "pause" and not status_paused:
            cached.ledger.append(_event(ClockEventKind.PAUSED, now, PauseSource.STATUS))
            status_paused = True
        elif action == "resume" and status_paused:
            cached.ledger.append(_event(ClockEventKind.RESUMED, now, PauseSource.STATUS))
            status_paused = False
        elif action == "hold" and not held:
            cached.ledger.append(_event(ClockEventKind.PAUSED, now, PauseSource.HOLD))
            held = True
        elif action == "release" and held:
            cached.ledger.append(_event(ClockEventKind.RESUMED, now, PauseSource.HOLD))
            held = False
        elif action == "respond" and cached.responded_at is None:
            # As move_clock_on_transition: judged on the clock as it stands, then recorded.
            taken = derive_clock(cached.ledger).consumed(calendar, now)
            cached.responded_at = now
            cached.response_outcome = outcome_of(taken, cached.response_target_seconds)
            cached.response_seconds = int(taken.total_seconds())
            cached.ledger.append(_event(ClockEventKind.RESPONDED, now))
        elif action == "retarget":
            # As _retarget: a frozen response target once answered.
            cached.resolution_target_seconds = minutes * 60
            if cached.responded_at is None:
                cached.response_target_seconds = max(minutes // 4, 30) * 60
            cached.ledger.append(_event(ClockEventKind.TARGET_CHANGED, now))
        elif action == "stop":
            # As _stop_cycle.
            cached.ledger.append(_event(ClockEventKind.STOPPED, now))
            clock = derive_clock(cached.ledger)
            worked = clock.consumed(calendar, now)
            cached.stopped_at = now
            cached.outcome = outcome_of(worked, cached.resolution_target_seconds)
            cached.working_seconds = int(worked.total_seconds())
            cached.waiting_seconds = int(clock.waiting(now).total_seconds())
        else:
            continue
        _check(cached, calendar, warnings, now)
    event(f"ledger events: {len(cached.ledger) // 4 * 4}+")


def _check(cached: Cached, calendar: BusinessCalendar, warnings, now: datetime) -> None:
    clock = derive_clock(cached.ledger)
    got = deadlines_for(
        clock,
        calendar,
        resolution_target_seconds=cached.resolution_target_seconds,
        response_target_seconds=cached.response_target_seconds,
        warnings=warnings,
    )
    ref = replay_cycle(
        cached.ledger,
        calendar,
        resolution_target_seconds=cached.resolution_target_seconds,
        response_target_seconds=cached.response_target_seconds,
        warnings=warnings,
    )
    ledger = [(e.kind, e.source, e.at.isoformat()) for e in cached.ledger]
    assert (got.resolution_due_at, got.response_due_at, got.at_risk_at, got.paused_since) == (
        ref.resolution_due_at,
        ref.response_due_at,
        ref.at_risk_at,
        ref.paused_since,
    ), ledger
    assert {k: due for k, (due, _label) in got.checkpoints.items()} == ref.checkpoints, ledger
    assert (
        cached.response_outcome,
        cached.response_seconds,
        cached.outcome,
        cached.working_seconds,
        cached.waiting_seconds,
    ) == (
        ref.response_outcome,
        ref.response_seconds,
        ref.outcome,
        ref.working_seconds,
        ref.waiting_seconds,
    ), ledger
    # A reached deadline is the first moment the clock shows the full amount.
    if ref.resolution_reached_at is not None:
        target = timedelta(seconds=cached.resolution_target_seconds)
        assert ref.elapsed(ref.resolution_reached_at) == target, ledger
        assert ref.elapsed(ref.resolution_reached_at - timedelta(seconds=1)) < target, ledger
    moments = [now + timedelta(hours=h) for h in (0, 1, 9, 30, 100)]
    for due in (got.resolution_due_at, got.at_risk_at, got.response_due_at):
        if due is not None and due >= now:
            moments += [due - timedelta(seconds=1), due, due + timedelta(seconds=1)]
    issue = Issue(
        status=Status.CLOSED if cached.stopped_at else Status.ASSIGNED,
        resolution_due_at=got.resolution_due_at,
        at_risk_at=got.at_risk_at,
        sla_paused_at=got.paused_since,
    )
    for moment in [m for m in moments if m >= now]:
        # Elapsed business time and paused wall time as the services measure them.
        assert clock.consumed(calendar, moment) == ref.elapsed(moment), (moment, ledger)
        assert clock.waiting(moment) == ref.paused(moment), (moment, ledger)
        if cached.stopped_at is None:
            expected = _expected_state(ref, cached.resolution_target_seconds, warnings, moment)
            assert sla_state(issue, moment) == expected, (moment, ledger)
    # Paused time never counts.
    assert ref.elapsed(now) <= sum(
        (calendar.measure(s, e or now) for s, e in ref.runs if s < now), ZERO
    )


# --- through the services and the database ------------------------------------------------
# "move" takes one of the transitions open from the current status (index `value`).
SERVICE_ACTIONS = ("move", "move", "move", "move", "hold", "release", "priority", "severity")
POLICIES = {
    "berlin": {
        "time_zone": "Europe/Berlin",
        "holiday_country": "DE",
        "holidays": ["2026-10-27"],
        "working_hours": [[[8 * 60, 12 * 60], [13 * 60, 17 * 60]]] * 5 + [[], []],
    },
    "new york": {
        "time_zone": "America/New_York",
        "holiday_country": "US",
        "holidays": [],
        "working_hours": [[[22 * 60, 30 * 60]]] * 5 + [[], []],
    },
}


def _cycle_calendar(cycle: SlaCycle) -> BusinessCalendar:
    policy = cycle.policy
    if not cycle.business_hours:
        return BusinessCalendar(time_zone=policy.time_zone, always=True)
    return policy.calendar_for(int(policy.business_severities[0]))


def _assert_cached_equals_replay(issue: Issue, responses: dict) -> None:
    """Every cached column of every cycle of `issue` equals the replay of its ledger.

    `responses`: the response facts per cycle as first seen. They are judged when the response
    happens, on the targets and calendar of that moment, and never rewritten; deadlines, by
    design, are re-measured over the whole cycle on the current calendar after a severity or
    policy change. So the response facts are compared with the replay until the cycle's
    targets change after the response, and must stay as first seen after that."""
    issue.refresh_from_db()
    policy_warnings = None
    for cycle in SlaCycle.objects.filter(issue=issue).select_related("policy"):
        events = list(ClockEvent.objects.filter(issue=issue, cycle=cycle.number))
        facts = (cycle.responded_at, cycle.response_outcome, cycle.response_seconds)
        retargeted_since_response = any(
            e.kind == ClockEventKind.TARGET_CHANGED
            and cycle.responded_at is not None
            and (e.at, e.pk) > (cycle.responded_at, 0)
            for e in events
        )
        if cycle.number in responses:
            assert facts == responses[cycle.number], "a response was re-judged"
        elif cycle.responded_at is not None:
            responses[cycle.number] = facts
        ref = replay_cycle(
            events,
            _cycle_calendar(cycle),
            resolution_target_seconds=cycle.resolution_target_seconds,
            response_target_seconds=cycle.response_target_seconds,
            warnings=cycle.policy.warnings,
        )
        ledger = [(e.kind, e.source, e.at.isoformat()) for e in events]
        if not retargeted_since_response:
            assert facts == (ref.responded_at, ref.response_outcome, ref.response_seconds), (
                cycle.number,
                ledger,
            )
        assert (
            cycle.stopped_at,
            cycle.outcome,
            cycle.working_seconds,
            cycle.waiting_seconds,
        ) == (
            ref.stopped_at,
            ref.outcome,
            ref.working_seconds,
            ref.waiting_seconds,
        ), (cycle.number, ledger)
        assert (cycle.resolution_due_at, cycle.response_due_at) == (
            ref.resolution_due_at,
            ref.response_due_at,
        ), (cycle.number, ledger)
        rows = {(c.kind, c.threshold): c for c in issue.checkpoints.filter(cycle=cycle.number)}
        for key, due in ref.checkpoints.items():
            row = rows.get(key)
            if row is not None and row.flagged_at is None:
                assert row.due_at == due, (cycle.number, key, ledger)
            elif row is None:
                assert due is None, (cycle.number, key, ledger)
        if cycle.number == issue.sla_cycle:
            policy_warnings = cycle.policy.warnings
            assert (
                issue.resolution_due_at,
                issue.response_due_at,
                issue.at_risk_at,
                issue.sla_paused_at,
            ) == (
                ref.resolution_due_at,
                ref.response_due_at,
                ref.at_risk_at,
                ref.paused_since,
            ), ledger
            if issue.is_open and cycle.stopped_at is None:
                now = timezone.now()
                for later in (ZERO, timedelta(hours=5), timedelta(days=3)):
                    expected = _expected_state(
                        ref, cycle.resolution_target_seconds, policy_warnings, now + later
                    )
                    assert sla_state(issue, now + later) == expected, (later, ledger)


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@given(
    where=st.sampled_from(sorted(POLICIES)),
    anchor=st.sampled_from(ANCHORS),
    paused=st.sampled_from([[], ["new"], ["retest"], ["new", "revise"]]),
    severity=st.sampled_from([Severity.MINOR, Severity.MAJOR, Severity.CRITICAL]),
    timeline=st.lists(
        st.tuples(gaps, st.sampled_from(SERVICE_ACTIONS), st.integers(0, 3)),
        min_size=8,
        max_size=16,
    ),
)
def test_services_keep_the_replayed_state(project, cast, where, anchor, paused, severity, timeline):
    policy = current_policy(project)
    for name, value in POLICIES[where].items():
        setattr(policy, name, value)
    policy.paused_statuses = paused
    policy.warnings = [75, -30]
    policy.save()
    with time_machine.travel(anchor, tick=False) as traveller:
        issue = make_issue(project, cast["reporter"], severity=severity)
        responses: dict[int, tuple] = {}
        _assert_cached_equals_replay(issue, responses)
        accepted = 0
        for gap, action, value in timeline:
            traveller.shift(gap)
            issue.refresh_from_db()
            try:
                if action in ("hold", "release"):
                    if action == "hold":
                        hold_sla_clock(
                            issue, actor=cast["manager"], reason=HoldReason.WAITING_ON_VENDOR
                        )
                    else:
                        release_sla_hold(issue, actor=cast["manager"])
                elif action in ("priority", "severity"):
                    choices = Priority.values if action == "priority" else Severity.values
                    update_issue(
                        issue,
                        actor=cast["manager"],
                        changes={action: choices[value % len(choices)]},
                        reason="Customer escalated",
                    )
                else:
                    _move(issue, value, cast)
            except WorkflowError:
                continue
            accepted += 1
            _assert_cached_equals_replay(issue, responses)
    event(f"accepted steps: {accepted // 3 * 3}+, cycles: {issue.sla_cycle}")


def _move(issue: Issue, value: int, cast) -> None:
    """Take the `value`-th transition open from the issue's status, as whoever may."""
    options = transitions_from(issue.status)
    row = options[value % len(options)]
    error = None
    for who in ("owner", "tester", "manager", "reporter"):
        try:
            transition_issue(issue, row.target, actor=cast[who], **data_for(row.name, cast))
            return
        except WorkflowError as refused:
            error = refused
    raise error


@pytest.mark.django_db
def test_a_fix_after_a_deadline_at_the_end_of_the_day_is_missed(project, cast, walk):
    """Found by the replay test: 8 business hours from 09:00 are due at 17:00; the issue is
    Breached from 17:00 (and alerted); fixing it at 18:00 used to count as met because no
    business time had passed since."""
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    with time_machine.travel(monday, tick=False) as traveller:
        issue = make_issue(
            project, cast["reporter"], priority=Priority.HIGH, severity=Severity.MAJOR
        )
        assert issue.resolution_due_at == monday + timedelta(hours=8)
        walk(issue, Status.RETEST)
        traveller.move_to(monday + timedelta(hours=9))
        assert sla_state(issue, timezone.now()) == SlaState.BREACHED
        transition_issue(issue, Status.FIXED, actor=cast["tester"])
    cycle = SlaCycle.objects.get(issue=issue, number=1)
    assert cycle.outcome == CycleOutcome.MISSED
    assert cycle.working_seconds == 8 * 3600


@pytest.mark.django_db
def test_a_response_after_a_hold_is_judged_on_time_on_the_clock(project, cast):
    """Found by the replay test: held for two days before anyone assigned it, the issue had
    used 30 min of its 60 min response target; the response was judged against the deadline
    projected from the start of the hold and counted as missed."""
    start = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        issue = make_issue(
            project, cast["reporter"], priority=Priority.HIGH, severity=Severity.CRITICAL
        )
        traveller.shift(timedelta(minutes=30))
        hold_sla_clock(issue, actor=cast["manager"], reason=HoldReason.WAITING_ON_REPORTER)
        traveller.shift(timedelta(days=2))
        transition_issue(issue, Status.ASSIGNED, actor=cast["manager"], **data_for("assign", cast))
    cycle = SlaCycle.objects.get(issue=issue, number=1)
    assert cycle.response_seconds == 30 * 60
    assert cycle.response_outcome == CycleOutcome.MET
    assert not SlaCheckpoint.objects.filter(
        issue=issue, kind="response_breach", due_at__isnull=False
    ).exists()
