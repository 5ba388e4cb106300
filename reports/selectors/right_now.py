"""Right now: the open issues at risk or breached, and those forecast to breach soon."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    Value,
    When,
)

from issues.models import Issue
from workflows.models import SlaPolicy
from workflows.selectors import (
    SlaState,
    annotate_sla_state,
    sla_state_condition,
    time_left,
)

from .open_issues import _open_groups
from .scope import Scope, _policies, forecast_condition


@dataclass
class RightNow:
    open: int = 0
    breached: int = 0
    at_risk: int = 0
    paused: int = 0
    forecast: int = 0
    # Issues annotated with their sla_state, forecast and time_left.
    urgent: list[Any] = field(default_factory=list)


def right_now(scope: Scope, *, limit: int = 50) -> RightNow:
    """Counts of open issues by SLA state plus the forecast; the most urgent ones listed."""
    forecast = forecast_condition(scope)
    result = RightNow()
    for row in _open_groups(scope):
        result.open += row["n"]
        result.forecast += row["soon"]
        if row["sla_state"] == SlaState.BREACHED:
            result.breached += row["n"]
        elif row["sla_state"] == SlaState.AT_RISK:
            result.at_risk += row["n"]
        elif row["sla_state"] == SlaState.PAUSED:
            result.paused += row["n"]
    result.urgent = list(
        annotate_sla_state(scope.open_issues(), scope.now)
        .annotate(
            forecast=Case(
                When(forecast, then=Value(True)), default=False, output_field=BooleanField()
            )
        )
        .filter(
            sla_state_condition(SlaState.BREACHED, scope.now)
            | sla_state_condition(SlaState.AT_RISK, scope.now)
            | forecast
        )
        .select_related("project", "owner", "team")
        .order_by("resolution_due_at", "pk")[:limit]
    )
    # Most urgent = least time left in each issue's own business time (workflows' one rule).
    policies = _policies(scope, list(scope.visible_project_ids))
    for issue in result.urgent:
        policy = policies.get(issue.project_id) or SlaPolicy()
        issue.time_left = time_left(  # type: ignore[attr-defined]
            issue, policy.calendar_for(issue.severity), scope.now
        )
    # Equal time left: the earlier deadline on the wall clock first.
    result.urgent.sort(key=_urgency)
    return result


def _urgency(issue: Issue) -> tuple:
    left = issue.time_left  # type: ignore[attr-defined]
    return (left.sort_seconds is None, left.sort_seconds or 0, issue.resolution_due_at, issue.pk)
