"""SLA state derived from the deadlines cached on the issue: one definition for badges,
filters, dashboards and the API.

State of an open issue: paused (clock on hold), breached (resolution deadline passed),
at_risk (a warning threshold passed), on_track otherwise. Finished cycles are met/missed
(kept by the workflows app per cycle).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Case, CharField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value, When
from django.utils import timezone

from issues.models import OPEN_STATUSES, Issue, Status
from projects.models import Project
from projects.selectors import eligible_owners, role_in_project

from .businesstime import (
    HORIZON,
    ZERO,
    BusinessCalendar,
    format_business_duration,
    format_duration,
    no_working_time_text,
)
from .models import ClockEvent, CycleOutcome, SlaCycle, SlaPolicy, StatusPeriod, TransitionRule
from .services import may_take
from .sla import compute_deadlines, derive_clock
from .transitions import Transition, transitions_from


class SlaState:
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    PAUSED = "paused"
    NONE = "none"

    LABELS = {
        ON_TRACK: "On track",
        AT_RISK: "At risk",
        BREACHED: "Breached",
        PAUSED: "Paused",
        NONE: "No SLA",
    }


SLA_STATE_CHOICES = [
    (state, SlaState.LABELS[state])
    for state in (SlaState.ON_TRACK, SlaState.AT_RISK, SlaState.BREACHED, SlaState.PAUSED)
]
# The filter also offers both states that need attention at once (the board's quick filter).
AT_RISK_OR_BREACHED = "at_risk_or_breached"
SLA_FILTER_CHOICES = [*SLA_STATE_CHOICES, (AT_RISK_OR_BREACHED, "At risk or breached")]


def _state_conditions(now: datetime) -> dict[str, Q]:
    open_ = Q(status__in=OPEN_STATUSES)
    running = open_ & Q(sla_paused_at__isnull=True)
    breached = running & Q(resolution_due_at__lte=now)
    at_risk = running & Q(resolution_due_at__gt=now, at_risk_at__lte=now)
    on_track = (
        running
        & Q(resolution_due_at__gt=now)
        & (Q(at_risk_at__isnull=True) | Q(at_risk_at__gt=now))
    )
    return {
        SlaState.PAUSED: open_ & Q(sla_paused_at__isnull=False),
        SlaState.BREACHED: breached,
        SlaState.AT_RISK: at_risk,
        SlaState.ON_TRACK: on_track,
    }


def sla_state_condition(state: str, now: datetime | None = None) -> Q:
    """The condition of one state as plain column comparisons (which the planner can estimate
    and match to the deadline indexes, unlike a filter on the `sla_state` annotation)."""
    conditions = _state_conditions(now or timezone.now())
    return conditions.get(state, Q(pk__in=[]))


def filter_sla_state(
    qs: QuerySet[Issue], state: str, now: datetime | None = None
) -> QuerySet[Issue]:
    conditions = _state_conditions(now or timezone.now())
    if state == AT_RISK_OR_BREACHED:
        return qs.filter(conditions[SlaState.AT_RISK] | conditions[SlaState.BREACHED])
    if state not in conditions:
        return qs.none()
    return qs.filter(conditions[state])


def annotate_sla_state(qs: QuerySet[Issue], now: datetime | None = None) -> QuerySet[Issue]:
    conditions = _state_conditions(now or timezone.now())
    return qs.annotate(
        sla_state=Case(
            *(When(cond, then=Value(state)) for state, cond in conditions.items()),
            default=Value(SlaState.NONE),
            output_field=CharField(),
        )
    )


def annotate_sla_outcome(qs: QuerySet[Issue]) -> QuerySet[Issue]:
    """`sla_outcome` (met/missed/"") of each issue's current cycle, for badges of finished
    issues in lists (one subquery, no extra query per row)."""

    outcome = SlaCycle.objects.filter(issue=OuterRef("pk"), number=OuterRef("sla_cycle")).values(
        "outcome"
    )[:1]
    return qs.annotate(sla_outcome=Subquery(outcome))


def sla_state(issue: Issue, now: datetime | None = None) -> str:
    """The same rule as `filter_sla_state`, for one issue already in memory."""
    now = now or timezone.now()
    if issue.status not in OPEN_STATUSES or issue.resolution_due_at is None:
        return SlaState.NONE
    if issue.sla_paused_at is not None:
        return SlaState.PAUSED
    if issue.resolution_due_at <= now:
        return SlaState.BREACHED
    if issue.at_risk_at is not None and issue.at_risk_at <= now:
        return SlaState.AT_RISK
    return SlaState.ON_TRACK


# --- workflow reads (buttons, SLA box, stage durations, settings previews) ------------------
def transition_overrides(project: Project) -> dict[str, frozenset[str]]:
    return {
        r.transition: frozenset(r.actors) for r in TransitionRule.objects.filter(project=project)
    }


_UNKNOWN = object()


def available_transitions(issue: Issue, user, *, role: Any = _UNKNOWN) -> list[Transition]:
    """The transitions `user` may take on `issue` now (what the buttons show); `role` is the
    user's role in the project when the caller already knows it."""

    if not user.is_authenticated:
        return []
    overrides = transition_overrides(issue.project)
    if role is _UNKNOWN:
        role = role_in_project(user, issue.project)
    return [
        t
        for t in transitions_from(issue.status)
        if may_take(t, issue, user, role=role, actors=overrides.get(t.name, t.actors))
    ]


def developers_of(project: Project) -> QuerySet:
    """Who the Assign and Reopen forms offer as owner (projects.selectors.eligible_owners)."""
    return eligible_owners(project)


def policy_of(project: Project) -> SlaPolicy:
    """The project's current policy (an unsaved default when it has none yet)."""
    policy = SlaPolicy.objects.filter(project=project).order_by("-version").first()
    return policy or SlaPolicy(project=project, version=0)


STAGE_ORDER = [s.value for s in Status]


@dataclass
class CycleStages:
    number: int
    stages: list[tuple[str, timedelta]]
    total: timedelta
    outcome: str = ""


def cycles_prefetch() -> Prefetch:
    """Prefetch an issue's SLA cycles (with their policy) once for the SLA box and the stage
    durations: `prefetch_related_objects([issue], cycles_prefetch())`."""

    return Prefetch("sla_cycles", queryset=SlaCycle.objects.select_related("policy"))


def cycles_of(issue: Issue) -> list:
    """The issue's SLA cycles with their policy: the prefetched ones when the page did so."""

    prefetched = getattr(issue, "_prefetched_objects_cache", {}).get("sla_cycles")
    if prefetched is not None:
        return list(prefetched)
    return list(SlaCycle.objects.filter(issue=issue).select_related("policy"))


def stage_durations(issue: Issue, now: datetime | None = None) -> list[CycleStages]:
    """Time spent in each status, per SLA cycle (the current stay counts up to now)."""

    now = now or timezone.now()
    per_cycle: dict[int, dict[str, timedelta]] = {}
    for p in StatusPeriod.objects.filter(issue=issue):
        spent = (p.left_at or now) - p.entered_at
        stages = per_cycle.setdefault(p.cycle, {})
        stages[p.status] = stages.get(p.status, ZERO) + spent
    outcomes = {c.number: c.outcome for c in cycles_of(issue)}
    return [
        CycleStages(
            number=n,
            stages=[(Status(s).label, stages[s]) for s in sorted(stages, key=STAGE_ORDER.index)],
            total=sum(stages.values(), ZERO),
            outcome=outcomes.get(n, ""),
        )
        for n, stages in sorted(per_cycle.items())
    ]


# --- time left: one function for every page, e-mail and API field -------------------------
@dataclass(frozen=True)
class TimeLeft:
    """Time left on an open issue's clock, in the clock's own time: business time for a
    business-hours cycle, clock time for a 24x7 one. Once breached, the wall-clock time since
    the deadline (it is a moment that has passed)."""

    state: str
    business: bool = True
    remaining: timedelta | None = None
    overdue: timedelta | None = None
    # An open clock whose deadline no working time within the search horizon reaches.
    unreachable: bool = False

    @property
    def sort_seconds(self) -> float | None:
        """Ranks issues by urgency: overdue first (negative), then least time left."""
        if self.overdue is not None:
            return -self.overdue.total_seconds()
        if self.remaining is not None:
            return self.remaining.total_seconds()
        return None

    @property
    def amount_text(self) -> str:
        if self.remaining is None:
            return ""
        if self.business:
            return format_business_duration(self.remaining)
        return format_duration(self.remaining)

    @property
    def short(self) -> str:
        """For badges and rows: "3 business h 10 min left", "2 h over"."""
        if self.unreachable:
            return no_working_time_text()
        if self.overdue is not None:
            return f"{format_duration(self.overdue)} over"
        if self.remaining is not None:
            return f"{self.amount_text} left"
        return ""


def time_left(issue: Issue, calendar: BusinessCalendar, now: datetime | None = None) -> TimeLeft:
    """The one rule for time left, from the deadlines cached on the issue (no ledger walk):
    the calendar's working time from now (or from the pause) to the cached deadline."""
    now = now or timezone.now()
    state = sla_state(issue, now)
    business = not calendar.always
    due = issue.resolution_due_at
    if issue.status not in OPEN_STATUSES:
        return TimeLeft(state=state, business=business)
    if due is None:
        return TimeLeft(state=state, business=business, unreachable=True)
    if state == SlaState.BREACHED:
        return TimeLeft(state=state, business=business, overdue=now - due)
    since = issue.sla_paused_at if issue.sla_paused_at is not None else now
    return TimeLeft(state=state, business=business, remaining=calendar.measure(since, due))


def time_left_of(issue: Issue, now: datetime | None = None) -> TimeLeft:
    """`time_left` for one issue: its current cycle's policy when the page prefetched the
    cycles (`cycles_prefetch`), else one query for the project's policy."""
    prefetched = getattr(issue, "_prefetched_objects_cache", {}).get("sla_cycles")
    if prefetched is not None:
        current = next((c for c in prefetched if c.number == issue.sla_cycle), None)
        if current is not None:
            return time_left(issue, current.policy.calendar_for(issue.severity), now)
    return times_left([issue], now)[issue.pk]


def deadline_text(issue: Issue, moment: datetime | None, now: datetime | None = None) -> str:
    """A deadline relative to now for e-mails: "in 3 business h 10 min" (the issue's own
    business time, as the SLA box counts it) or "25 min ago" (a passed moment, wall clock)."""
    if moment is None:
        return ""
    now = now or timezone.now()
    if moment <= now:
        return f"{format_duration(now - moment)} ago"
    policy = current_policies([issue.project_id])[issue.project_id]
    calendar = policy.calendar_for(issue.severity)
    left = TimeLeft(
        state=SlaState.ON_TRACK,
        business=not calendar.always,
        remaining=calendar.measure(now, moment),
    )
    return f"in {left.amount_text}"


def current_policies(project_ids: Iterable[int]) -> dict[int, SlaPolicy]:
    """Each project's newest policy version (the one every open cycle runs on), one query;
    an unsaved default for a project that has none yet."""
    ids = sorted(set(project_ids))
    newest: dict[int, SlaPolicy] = {pk: SlaPolicy(project_id=pk, version=0) for pk in ids}
    if ids:
        for policy in SlaPolicy.objects.filter(project_id__in=ids).order_by(
            "project_id", "version"
        ):
            newest[policy.project_id] = policy
    return newest


def times_left(issues: Iterable[Issue], now: datetime | None = None) -> dict[int, TimeLeft]:
    """`time_left` for many issues with one query for their projects' policies."""
    now = now or timezone.now()
    rows = list(issues)
    open_rows = [i for i in rows if i.status in OPEN_STATUSES]
    policies = current_policies(i.project_id for i in open_rows) if open_rows else {}
    out = {}
    for issue in rows:
        policy = policies.get(issue.project_id) or SlaPolicy(version=0)
        out[issue.pk] = time_left(issue, policy.calendar_for(issue.severity), now)
    return out


def business_horizons(
    policies: dict[int, SlaPolicy],
    now: datetime,
    amount: timedelta,
    *,
    others: SlaPolicy | None = None,
) -> Q:
    """Issues whose running clock has at most `amount` of its own time left: per project,
    the moment its calendar reaches `amount` from now (the same arithmetic as `time_left`,
    turned into column comparisons for SQL ranking and counting)."""

    clock_horizon = now + amount
    by_horizon: dict[tuple[datetime, tuple[int, ...]], list[int]] = {}
    for pk, policy in policies.items():
        business = tuple(sorted(int(s) for s in policy.business_severities))
        horizon = clock_horizon
        if business:
            horizon = policy.calendar_for(business[0]).add(now, amount) or now + HORIZON
        by_horizon.setdefault((horizon, business), []).append(pk)
    condition = Q(pk__in=[])
    for (horizon, business), pks in by_horizon.items():
        condition |= Q(project_id__in=pks) & _within(business, horizon, clock_horizon)
    if others is not None:
        # Projects without a saved policy run on the defaults.
        business = tuple(sorted(int(s) for s in others.business_severities))
        reached = others.calendar_for(business[0]).add(now, amount) if business else clock_horizon
        condition |= ~Q(project_id__in=list(policies)) & _within(
            business, reached or now + HORIZON, clock_horizon
        )
    return condition


def _within(business: tuple[int, ...], horizon: datetime, clock_horizon: datetime) -> Q:
    return Q(severity__in=business, resolution_due_at__lte=horizon) | (
        ~Q(severity__in=business) & Q(resolution_due_at__lte=clock_horizon)
    )


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
