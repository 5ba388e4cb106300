"""An issue's SLA state (on track, at risk, breached, paused): one rule for filters, badges,
counts and single issues."""

from datetime import datetime

from django.db.models import Case, CharField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.utils import timezone

from issues.models import OPEN_STATUSES, Issue

from ..models import SlaCycle


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


def clock_running(issue: Issue) -> bool:
    """Whether the SLA clock of `issue` runs: open and not on hold. The one rule, with
    `clock_running_condition` for querysets (a test keeps the two equal)."""
    return issue.status in OPEN_STATUSES and issue.sla_paused_at is None


def clock_running_condition() -> Q:
    """`clock_running` as a filter."""
    return Q(status__in=OPEN_STATUSES, sla_paused_at__isnull=True)


def _state_conditions(now: datetime) -> dict[str, Q]:
    open_ = Q(status__in=OPEN_STATUSES)
    running = clock_running_condition()
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
    if not clock_running(issue):
        return SlaState.PAUSED
    if issue.resolution_due_at <= now:
        return SlaState.BREACHED
    if issue.at_risk_at is not None and issue.at_risk_at <= now:
        return SlaState.AT_RISK
    return SlaState.ON_TRACK
