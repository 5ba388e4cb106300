"""SLA state derived from the deadlines cached on the issue: one definition for badges,
filters, dashboards and the API.

State of an open issue: paused (clock on hold), breached (resolution deadline passed),
at_risk (a warning threshold passed), on_track otherwise. Finished cycles are met/missed
(kept by the workflows app per cycle).
"""

from datetime import datetime

from django.db.models import Case, CharField, Q, QuerySet, Value, When
from django.utils import timezone

from issues.models import OPEN_STATUSES, Issue


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


def filter_sla_state(
    qs: QuerySet[Issue], state: str, now: datetime | None = None
) -> QuerySet[Issue]:
    conditions = _state_conditions(now or timezone.now())
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
