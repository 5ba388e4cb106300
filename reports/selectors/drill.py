"""Drill-down: exactly the issues behind a number on the dashboard."""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import (
    QuerySet,
)

from issues.inputs import parse_id
from issues.models import Issue
from workflows.models import CycleOutcome

from .scope import Scope, forecast_condition

DRILL_METRICS = ("finished", "stage", "forecast")


def drill_issues(scope: Scope, metric: str, params: dict[str, str]) -> QuerySet[Issue]:
    """The issues behind one number of the dashboard that the issue list cannot filter by
    itself (cycle outcomes in the period, stage stays, the forecast)."""
    issues = scope.issues()
    if metric == "forecast":
        return issues.filter(forecast_condition(scope))
    if metric == "stage":
        stays = scope.stage_stays().filter(status=params.get("stage", ""))
        return issues.filter(pk__in=stays.values("issue_id"))
    if metric != "finished":
        return issues.none()
    cycles = scope.finished_cycles()
    week = params.get("week")
    if week:
        try:
            monday = date.fromisoformat(week)
        except ValueError:
            return issues.none()
        cycles = cycles.filter(
            stopped_at__gte=scope.midnight(monday),
            stopped_at__lt=scope.midnight(monday + timedelta(days=7)),
        )
    for name in ("priority", "severity"):
        value = params.get(name, "")
        if value:
            number = parse_id(value, maximum=32767)
            if number is None:
                return issues.none()
            cycles = cycles.filter(**{f"issue__{name}": number})
    for name, lookup in (
        ("outcome", "outcome"),
        ("response_outcome", "response_outcome"),
        ("cause", "issue__root_cause"),
        ("type", "issue__type"),
    ):
        if name in params:
            value = params[name]
            cycles = cycles.filter(**{lookup: "" if name == "cause" and value == "none" else value})
    if params.get("responded"):  # MTTA's cohort: cycles with a measured time to assign
        cycles = cycles.filter(response_seconds__isnull=False)
    if params.get("response_measured"):  # response compliance's cohort
        cycles = cycles.filter(response_outcome__in=[CycleOutcome.MET, CycleOutcome.MISSED])
    return issues.filter(pk__in=cycles.values("issue_id"))
