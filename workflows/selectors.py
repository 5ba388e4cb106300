"""SLA state derived from the deadlines cached on the issue: one definition for badges,
filters, dashboards and the API.

State of an open issue: paused (clock on hold), breached (resolution deadline passed),
at_risk (a warning threshold passed), on_track otherwise. Finished cycles are met/missed
(kept by the workflows app per cycle).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Case, CharField, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone

from issues.models import OPEN_STATUSES, Issue, Status
from projects.models import Project, Role
from projects.selectors import role_in_project

from .businesstime import ZERO, format_duration
from .models import SlaPolicy
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
    from django.db.models import OuterRef, Subquery

    from .models import SlaCycle

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
    from .models import TransitionRule

    return {
        r.transition: frozenset(r.actors) for r in TransitionRule.objects.filter(project=project)
    }


_UNKNOWN = object()


def available_transitions(issue: Issue, user, *, role: Any = _UNKNOWN) -> list[Transition]:
    """The transitions `user` may take on `issue` now (what the buttons show); `role` is the
    user's role in the project when the caller already knows it."""
    from .services import may_take

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
    return (
        get_user_model()
        .objects.filter(
            memberships__project=project, memberships__role=Role.DEVELOPER, is_active=True
        )
        .order_by("username")
    )


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
    from .models import SlaCycle

    return Prefetch("sla_cycles", queryset=SlaCycle.objects.select_related("policy"))


def cycles_of(issue: Issue) -> list:
    """The issue's SLA cycles with their policy: the prefetched ones when the page did so."""
    from .models import SlaCycle

    prefetched = getattr(issue, "_prefetched_objects_cache", {}).get("sla_cycles")
    if prefetched is not None:
        return list(prefetched)
    return list(SlaCycle.objects.filter(issue=issue).select_related("policy"))


def stage_durations(issue: Issue, now: datetime | None = None) -> list[CycleStages]:
    """Time spent in each status, per SLA cycle (the current stay counts up to now)."""
    from .models import StatusPeriod

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

    @property
    def text(self) -> str:
        if self.state == SlaState.BREACHED and self.overdue is not None:
            return f"breached {format_duration(self.overdue)} ago"
        if self.state in (SlaState.ON_TRACK, SlaState.AT_RISK) and self.remaining is not None:
            kind = "business time" if self.business_hours else "clock time"
            return f"due in {format_duration(self.remaining)} of {kind}"
        if self.state == SlaState.PAUSED and self.remaining is not None:
            return f"paused with {format_duration(self.remaining)} left"
        return ""


def sla_summary(issue: Issue, now: datetime | None = None) -> SlaSummary:
    """What the SLA box shows: state, target, due, business time left, hold reason, cycles."""
    from .models import ClockEvent, CycleOutcome
    from .sla import derive_clock

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
        target=timedelta(minutes=current.resolution_minutes),
        business_hours=current.business_hours,
        due_at=issue.resolution_due_at,
        response_due_at=current.response_due_at if current.response_minutes else None,
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
    clock = derive_clock(ClockEvent.objects.filter(issue=issue, cycle=current.number))
    calendar = current.policy.calendar_for(issue.severity)
    left = timedelta(minutes=current.resolution_minutes) - clock.consumed(calendar, now)
    if state == SlaState.BREACHED and issue.resolution_due_at is not None:
        summary.overdue = now - issue.resolution_due_at
    else:
        summary.remaining = max(left, ZERO)
    if clock.pauses:
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
    from .models import ClockEvent, SlaCycle
    from .sla import compute_deadlines

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
            resolution_minutes=draft.resolution_target(issue.priority, issue.severity),
            response_minutes=(
                draft.response_target(issue.severity)
                if cycle.response_minutes is not None and cycle.responded_at is None
                else cycle.response_minutes
            ),
        )
        new = compute_deadlines(issue, trial, draft, events.get((issue.pk, cycle.number), []))
        if new.resolution_due_at != issue.resolution_due_at:
            moved.append(MovedDeadline(issue, issue.resolution_due_at, new.resolution_due_at))
    return moved
