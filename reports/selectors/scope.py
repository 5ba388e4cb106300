"""What a dashboard looks at (projects, period, filters) and what its panels share."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from functools import cached_property
from typing import Any

from django.db.models import (
    DateField,
    Q,
    QuerySet,
)
from django.db.models.functions import TruncWeek

from issues.models import OPEN_STATUSES, Issue, Severity, Status
from projects.selectors import projects_visible_to
from workflows.models import SlaCycle, SlaPolicy, StatusPeriod
from workflows.selectors import (
    business_horizons,
    clock_running_condition,
)

FORECAST_HOURS = 4
STAGES = (Status.ASSIGNED, Status.REVISE, Status.RETEST, Status.FIXED)
# Workload weight of one open issue per severity.
SEVERITY_WEIGHTS = {
    Severity.CRITICAL: 8,
    Severity.MAJOR: 4,
    Severity.MINOR: 2,
    Severity.TRIVIAL: 1,
}
# Ageing buckets in whole local days since the issue was filed: (label, first day, last day).
AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("< 1 day", 0, 0),
    ("1–3 days", 1, 2),
    ("3–7 days", 3, 6),
    ("1–4 weeks", 7, 27),
    ("older", 28, None),
)
OPEN_VALUES = [str(s) for s in OPEN_STATUSES]


@dataclass(frozen=True)
class Scope:
    """What the dashboard looks at. Dates are inclusive days in the viewer's zone `tz`."""

    user: Any
    first_day: date
    last_day: date
    tz: tzinfo
    now: datetime
    project_ids: tuple[int, ...] = ()
    team_id: int | None = None
    type: str = ""
    severity: int | None = None
    # A version's page: the issues planned for it (their fix version).
    fix_version_id: int | None = None

    def midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=self.tz)

    @property
    def start(self) -> datetime:
        return self.midnight(self.first_day)

    @property
    def end(self) -> datetime:
        """Exclusive: midnight after the last day."""
        return self.midnight(self.last_day + timedelta(days=1))

    @property
    def today(self) -> date:
        return self.now.astimezone(self.tz).date()

    def issues(self) -> QuerySet[Issue]:
        """`issues_visible_to` plus the filters, with the visible projects as a list of ids
        (`issue_filter`): a semi-join on the projects hides from the planner how many issues
        match, and it then picks slow plans (no ordered index scan for the urgent list)."""
        return (
            Issue.objects.filter(self.issue_filter(prefix=""))
            .select_related("project")
            .defer("search_vector")
        )

    @cached_property
    def memo(self) -> dict[str, Any]:
        return {}

    @cached_property
    def visible_project_ids(self) -> tuple[int, ...]:
        visible = projects_visible_to(self.user).values_list("pk", flat=True)
        return tuple(visible.filter(pk__in=self.project_ids) if self.project_ids else visible)

    def issue_filter(self, prefix: str = "issue__") -> Q:
        """The rule of `issues_visible_to` plus the dashboard filters, as a join condition on
        related rows (cycles, stays): a semi-join on the issues misleads the planner badly."""
        q = Q(
            **{
                f"{prefix}project_id__in": self.visible_project_ids,
                f"{prefix}archived_at__isnull": True,
            }
        )
        if self.team_id:
            q &= Q(**{f"{prefix}team_id": self.team_id})
        if self.type:
            q &= Q(**{f"{prefix}type": self.type})
        if self.severity:
            q &= Q(**{f"{prefix}severity": self.severity})
        if self.fix_version_id:
            q &= Q(**{f"{prefix}fix_version_id": self.fix_version_id})
        return q

    def row_filter(self) -> Q:
        """`issue_filter` for cycles and stays, plus their own (denormalised) project column,
        so the per-project indexes read one project's period and nothing else (the issue's
        project stays in the join condition: it lets the planner read only that project's
        issues when it hashes them)."""
        return Q(project_id__in=self.visible_project_ids) & self.issue_filter()

    def open_issues(self) -> QuerySet[Issue]:
        return self.issues().filter(status__in=OPEN_VALUES)

    def finished_cycles(self) -> QuerySet[SlaCycle]:
        return SlaCycle.objects.filter(
            self.row_filter(),
            stopped_at__gte=self.start,
            stopped_at__lt=self.end,
        )

    def stay_filter(self) -> Q:
        """`row_filter` for the stays, which need nothing of the issue but its visibility:
        without a team, type or severity filter, the stays of archived issues (few) are left
        out by id instead of joining every stay of the period to its issue."""
        if self.team_id or self.type or self.severity or self.fix_version_id:
            return self.row_filter()
        archived = Issue.objects.filter(
            project_id__in=self.visible_project_ids, archived_at__isnull=False
        )
        return Q(project_id__in=self.visible_project_ids) & ~Q(issue_id__in=archived.values("pk"))

    def stage_stays(self) -> QuerySet[StatusPeriod]:
        return StatusPeriod.objects.filter(
            self.stay_filter(),
            status__in=[str(s) for s in STAGES],
            left_at__gte=self.start,
            left_at__lt=self.end,
        )

    def week_starts(self) -> list[date]:
        """Mondays of every week the period touches (weeks in the viewer's zone)."""
        monday = self.first_day - timedelta(days=self.first_day.weekday())
        weeks = []
        while monday <= self.last_day:
            weeks.append(monday)
            monday += timedelta(days=7)
        return weeks


def _week(expression: str, scope: Scope) -> TruncWeek:
    return TruncWeek(expression, tzinfo=scope.tz, output_field=DateField())


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _policies(scope: Scope, project_ids: Iterable[int]) -> dict[int, SlaPolicy]:
    """Each project's newest policy (read once per page: the forecast and the time left of
    the urgent list share it)."""
    ids = tuple(sorted(set(project_ids)))
    key = f"policies:{ids}"
    if key not in scope.memo:
        newest: dict[int, SlaPolicy] = {}
        for policy in SlaPolicy.objects.filter(project_id__in=list(ids)).order_by(
            "project_id", "version"
        ):
            newest[policy.project_id] = policy
        scope.memo[key] = newest
    return scope.memo[key]


def forecast_condition(scope: Scope) -> Q:
    """Open issues whose running clock reaches the resolution deadline within the next
    FORECAST_HOURS business hours of their own calendar (not yet breached, not paused)."""
    if "forecast" not in scope.memo:
        scope.memo["forecast"] = _forecast_condition(scope)
    return scope.memo["forecast"]


def _forecast_condition(scope: Scope) -> Q:
    project_ids = list(scope.visible_project_ids)
    policies = _policies(scope, project_ids)
    # Projects without a saved policy run on the defaults.
    defaults = {pk: SlaPolicy() for pk in project_ids if pk not in policies}
    condition = business_horizons(
        {**defaults, **policies}, scope.now, timedelta(hours=FORECAST_HOURS)
    )
    return clock_running_condition() & Q(resolution_due_at__gt=scope.now) & condition


def _with_pct(row: dict[str, Any]) -> dict[str, Any]:
    row["met_pct"] = _pct(row["met"], row["finished"])
    row["response_pct"] = _pct(row["response_met"], row["responded"])
    return row


def total(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Overall compliance from the grid's rows (sums of counts, not of percentages)."""
    keys = ("finished", "met", "responded", "response_met")
    out: dict[str, Any] = dict.fromkeys(keys, 0)
    for row in rows:
        for k in keys:
            out[k] += row[k]
    return _with_pct(out)
