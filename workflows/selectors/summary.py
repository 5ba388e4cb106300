"""The SLA box's summary of an issue, and what a draft policy would move."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from issues.models import OPEN_STATUSES, Issue
from projects.models import Project

from ..businesstime import (
    ZERO,
    format_business_duration,
    format_duration,
    no_working_time_text,
)
from ..models import ClockEvent, CycleOutcome, SlaCycle, SlaPolicy
from ..sla import compute_deadlines, derive_clock
from .lifecycle import cycles_of
from .sla_state import SlaState, sla_state
from .time_left import TimeLeft, time_left


@dataclass
class SlaSummary:
    state: str
    label: str
    target: timedelta | None = None
    business_hours: bool = True
    due_at: datetime | None = None
    # Business time left on the clock (open cycle, not breached).
    remaining: timedelta | None = None
    # Wall-clock time since the deadline passed.
    overdue: timedelta | None = None
    paused_reason: str = ""
    on_hold: bool = False
    paused_since: datetime | None = None
    response_due_at: datetime | None = None
    responded_at: datetime | None = None
    cycle: int = 1
    outcome: str = ""
    policy_version: int | None = None
    past_cycles: list = field(default_factory=list)
    # Open, but no working time within the search horizon reaches the deadline.
    unreachable: bool = False

    @property
    def target_text(self) -> str:
        if self.target is None:
            return ""
        if self.business_hours:
            return format_business_duration(self.target)
        return format_duration(self.target, seconds=True)

    @property
    def text(self) -> str:
        if self.unreachable:
            return f"{no_working_time_text()}: the calendar cannot reach the deadline"
        if self.state == SlaState.BREACHED and self.overdue is not None:
            return f"breached {format_duration(self.overdue)} ago"
        left = TimeLeft(state=self.state, business=self.business_hours, remaining=self.remaining)
        if self.state in (SlaState.ON_TRACK, SlaState.AT_RISK) and self.remaining is not None:
            if self.business_hours:
                return f"due in {left.amount_text}"
            return f"due in {left.amount_text} of clock time"
        if self.state == SlaState.PAUSED and self.remaining is not None:
            return f"paused with {left.amount_text} left"
        return ""


def sla_summary(issue: Issue, now: datetime | None = None) -> SlaSummary:
    """What the SLA box shows: state, target, due, business time left, hold reason, cycles.

    Derived from what the services cached (deadlines on the issue, the cycle's targets): the
    calendar is walked only from now to the deadline, and the ledger is read only while the
    clock is paused (for the reason), never from the start of the cycle."""

    now = now or timezone.now()
    cycles = cycles_of(issue)
    current = next((c for c in cycles if c.number == issue.sla_cycle), None)
    past = [c for c in cycles if c.stopped_at is not None and c is not current]
    state = sla_state(issue, now)
    if current is None:
        return SlaSummary(state=state, label=SlaState.LABELS[state], past_cycles=past)
    summary = SlaSummary(
        state=state,
        label=SlaState.LABELS[state],
        target=timedelta(seconds=current.resolution_target_seconds),
        business_hours=current.business_hours,
        due_at=issue.resolution_due_at,
        response_due_at=current.response_due_at if current.response_target_seconds else None,
        responded_at=current.responded_at,
        cycle=current.number,
        outcome=current.outcome,
        policy_version=current.policy.version,
        past_cycles=past,
    )
    if current.stopped_at is not None:
        summary.state = current.outcome or SlaState.NONE
        summary.label = CycleOutcome(current.outcome).label if current.outcome else "No SLA"
        return summary
    left = time_left(issue, current.policy.calendar_for(issue.severity), now)
    summary.remaining, summary.overdue = left.remaining, left.overdue
    summary.unreachable = left.unreachable
    # A business calendar open round the clock counts clock time (and says so).
    summary.business_hours = left.business
    if issue.sla_paused_at is not None:
        clock = derive_clock(ClockEvent.objects.filter(issue=issue, cycle=current.number))
        summary.paused_reason = ", ".join(clock.pauses.values())
        summary.on_hold = "hold" in clock.pauses
        summary.paused_since = clock.paused_since
    return summary


@dataclass
class MovedDeadline:
    issue: Issue
    old_due: datetime | None
    new_due: datetime | None

    @property
    def delta(self) -> timedelta | None:
        if self.old_due is None or self.new_due is None:
            return None
        return self.new_due - self.old_due

    @property
    def delta_text(self) -> str:
        d = self.delta
        if d is None:
            return "—"
        return ("+" if d >= ZERO else "−") + format_duration(d)


def preview_policy_change(project: Project, draft: SlaPolicy) -> list[MovedDeadline]:
    """Which open issues' resolution deadlines `draft` would move, and by how much."""

    issues = list(
        Issue.objects.filter(project=project, status__in=OPEN_STATUSES).select_related("project")
    )
    cycles = {
        (c.issue_id, c.number): c
        for c in SlaCycle.objects.filter(issue__in=issues, stopped_at__isnull=True)
    }
    events: dict[tuple[int, int], list] = {}
    for ev in ClockEvent.objects.filter(issue__in=issues):
        events.setdefault((ev.issue_id, ev.cycle), []).append(ev)
    moved = []
    for issue in issues:
        cycle = cycles.get((issue.pk, issue.sla_cycle))
        if cycle is None:
            continue
        trial = SlaCycle(
            issue=issue,
            number=cycle.number,
            resolution_target_seconds=draft.resolution_target(issue.priority, issue.severity),
            response_target_seconds=(
                draft.response_target(issue.severity)
                if cycle.response_target_seconds is not None and cycle.responded_at is None
                else cycle.response_target_seconds
            ),
        )
        new = compute_deadlines(issue, trial, draft, events.get((issue.pk, cycle.number), []))
        if new.resolution_due_at != issue.resolution_due_at:
            moved.append(MovedDeadline(issue, issue.resolution_due_at, new.resolution_due_at))
    return moved
