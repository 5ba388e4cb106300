"""Dashboard metrics: SQL aggregation over the issues a viewer may see.

Every function takes a `Scope` (who is looking, which issues, which period, in which zone)
and runs grouped SQL (conditional aggregates, `percentile_cont` medians), returning a few
plain rows per group; nothing loops over issues in Python. Access is `issues_visible_to`,
SLA state is `workflows.selectors.annotate_sla_state`: the same rules as everywhere.

Cohorts (documented on the page):
- finished cycles: SLA cycles whose clock stopped (Fixed, or closed) inside the period;
  compliance, MTTA/MTTR, breaches and "resolved" count these, by the issue's current
  priority, severity and type.
- stage stays: status periods that ended inside the period (wall-clock time in the status).
- right now, ageing and workload: open issues at this moment (the period does not apply).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from functools import cached_property
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateField,
    F,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import TruncWeek

from issues.inputs import parse_id
from issues.models import OPEN_STATUSES, Issue, Severity, Status
from projects.selectors import projects_visible_to
from workflows.models import CycleOutcome, SlaCycle, SlaPolicy, StatusPeriod
from workflows.selectors import (
    SlaState,
    annotate_sla_state,
    business_horizons,
    sla_state_condition,
    time_left,
)

from .aggregates import SecondsBetween

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


# --- right now ---------------------------------------------------------------------------
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
    return (
        Q(status__in=OPEN_VALUES, sla_paused_at__isnull=True, resolution_due_at__gt=scope.now)
        & condition
    )


@dataclass
class RightNow:
    open: int = 0
    breached: int = 0
    at_risk: int = 0
    paused: int = 0
    forecast: int = 0
    urgent: list[Issue] = field(default_factory=list)


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


# --- history: finished cycles --------------------------------------------------------------
def _outcome_counts() -> dict[str, Count]:
    return {
        "finished": Count("pk"),
        "met": Count("pk", filter=Q(outcome=CycleOutcome.MET)),
        "responded": Count(
            "pk", filter=Q(response_outcome__in=[CycleOutcome.MET, CycleOutcome.MISSED])
        ),
        "response_met": Count("pk", filter=Q(response_outcome=CycleOutcome.MET)),
    }


def _with_pct(row: dict[str, Any]) -> dict[str, Any]:
    row["met_pct"] = _pct(row["met"], row["finished"])
    row["response_pct"] = _pct(row["response_met"], row["responded"])
    return row


def compliance_grid(scope: Scope) -> list[dict[str, Any]]:
    """Per (priority, severity): finished cycles, met, responded, response met, and %."""
    rows = [r for r in _cycle_groups(scope) if r["g"] == "grid"]
    rows.sort(key=lambda r: (-r["k1"], -r["k2"]))
    return [_with_pct({"priority": r["k1"], "severity": r["k2"], **_counts_of(r)}) for r in rows]


def total(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Overall compliance from the grid's rows (sums of counts, not of percentages)."""
    keys = ("finished", "met", "responded", "response_met")
    out: dict[str, Any] = dict.fromkeys(keys, 0)
    for row in rows:
        for k in keys:
            out[k] += row[k]
    return _with_pct(out)


def compliance_by_week(scope: Scope) -> list[dict[str, Any]]:
    """Per week (viewer's zone) of the period: finished cycles, met, responded, response met."""
    rows = {_as_date(r["k1"]): _counts_of(r) for r in _cycle_groups(scope) if r["g"] == "week"}
    empty = dict.fromkeys(_COUNT_KEYS, 0)
    return [_with_pct({**empty, **rows.get(w, {}), "week": w}) for w in scope.week_starts()]


def time_to_respond_and_resolve(scope: Scope, by: str) -> list[dict[str, Any]]:
    """MTTA (business seconds to Assigned) and MTTR (business seconds on the clock until it
    stopped), mean and median, per `by` ("priority" or "severity")."""
    if by not in ("priority", "severity"):
        raise ValueError(by)
    keys = ("n_respond", "mtta_mean", "mtta_median", "n_resolve", "mttr_mean", "mttr_median")
    rows = [
        {"key": r["k1"], **{k: r[k] for k in keys}} for r in _cycle_groups(scope) if r["g"] == by
    ]
    return sorted(rows, key=lambda r: -r["key"])


def breaches(scope: Scope) -> list[dict[str, Any]]:
    """Missed finished cycles per (type, root-cause category)."""
    rows = [
        {"type": r["k1"], "root_cause": r["k2"], "n": r["missed"]}
        for r in _cycle_groups(scope)
        if r["g"] == "cause" and r["missed"]
    ]
    return sorted(rows, key=lambda r: (r["type"], r["root_cause"]))


# The period's two cohorts are read in one statement: the finished cycles grouped five ways
# and the stage stays grouped by status (UNION ALL over CTEs that PostgreSQL materialises),
# instead of five joins of the cycles with the issues and one more round trip for the stays.
_COUNT_KEYS = ("finished", "met", "responded", "response_met")
_GROUPINGS = (  # (name, first key, second key)
    ("grid", "c_priority", "c_severity"),
    ("week", "c_week", None),
    ("priority", "c_priority", None),
    ("severity", "c_severity", None),
    ("cause", "c_type", "c_cause"),
    ("stage", "s_status", None),
)
_TIMED = ("priority", "severity")  # the groupings that show MTTA / MTTR


def _counts_of(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in _COUNT_KEYS}


def _as_date(value: Any) -> date:
    """A week start as the backend returns it from raw SQL (datetime on PostgreSQL, text on
    SQLite) as a date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _cycle_groups(scope: Scope) -> list[dict[str, Any]]:
    if "cycle_groups" not in scope.memo:
        scope.memo["cycle_groups"] = _query_period_groups(scope)
    return scope.memo["cycle_groups"]


def _cycle_cohort(scope: Scope) -> QuerySet:
    return (
        scope.finished_cycles()
        .order_by()
        .annotate(
            c_priority=F("issue__priority"),
            c_severity=F("issue__severity"),
            c_type=F("issue__type"),
            c_cause=F("issue__root_cause"),
            c_week=_week("stopped_at", scope),
            c_outcome=F("outcome"),
            c_response_outcome=F("response_outcome"),
            c_response=F("response_seconds"),
            c_working=F("working_seconds"),
        )
        .values(
            "c_priority",
            "c_severity",
            "c_type",
            "c_cause",
            "c_week",
            "c_outcome",
            "c_response_outcome",
            "c_response",
            "c_working",
        )
    )


def _stay_cohort(scope: Scope) -> QuerySet:
    """Stage stays as (status, wall-clock seconds): only columns of the per-project index."""
    return (
        scope.stage_stays()
        .order_by()
        .annotate(s_status=F("status"), s_seconds=SecondsBetween("entered_at", "left_at"))
        .values("s_status", "s_seconds")
    )


def _query_period_groups(scope: Scope) -> list[dict[str, Any]]:
    try:
        cycles_sql, cycles_params = _cycle_cohort(scope).query.sql_with_params()
        stays_sql, stays_params = _stay_cohort(scope).query.sql_with_params()
    except EmptyResultSet:  # no visible project: nothing to group
        return []
    postgres = connection.vendor == "postgresql"

    def median(column: str) -> str:
        if postgres:
            return f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {column})"
        return f"resolve_median({column})"

    def mean(column: str) -> str:
        return f"CAST(AVG({column}) AS double precision)" if postgres else f"AVG({column})"

    counts = (
        "COUNT(*) AS finished, "
        "SUM(CASE WHEN c_outcome = 'met' THEN 1 ELSE 0 END) AS met, "
        "SUM(CASE WHEN c_response_outcome IN ('met', 'missed') THEN 1 ELSE 0 END) AS responded, "
        "SUM(CASE WHEN c_response_outcome = 'met' THEN 1 ELSE 0 END) AS response_met, "
        "SUM(CASE WHEN c_outcome = 'missed' THEN 1 ELSE 0 END) AS missed, "
    )
    cycle_aggregates = (
        f"{counts}COUNT(c_response) AS n_respond, {mean('c_response')} AS mtta_mean, "
        f"{median('c_response')} AS mtta_median, "
        f"COUNT(c_working) AS n_resolve, {mean('c_working')} AS mttr_mean, "
        f"{median('c_working')} AS mttr_median"
    )
    # The groupings that show no durations leave out the medians: without an ordered-set
    # aggregate PostgreSQL groups them by hashing, with no sort of the cohort.
    none = "CAST(NULL AS double precision)"  # typed: UNION resolves the column types
    count_aggregates = (
        f"{counts}0 AS n_respond, {none} AS mtta_mean, {none} AS mtta_median, "
        f"0 AS n_resolve, {none} AS mttr_mean, {none} AS mttr_median"
    )
    # Stays fill the same columns: count as "finished", seconds as the "mttr" mean and median.
    stay_aggregates = (
        "COUNT(*) AS finished, 0 AS met, 0 AS responded, 0 AS response_met, 0 AS missed, "
        f"0 AS n_respond, {none} AS mtta_mean, {none} AS mtta_median, "
        f"COUNT(s_seconds) AS n_resolve, {mean('s_seconds')} AS mttr_mean, "
        f"{median('s_seconds')} AS mttr_median"
    )
    # Keys of different types go to columns of their own (UNION needs one type per column).
    key_columns = {
        "c_priority": "kp",
        "c_severity": "ks",
        "c_type": "kt",
        "s_status": "kt",
        "c_cause": "kc",
        "c_week": "kw",
    }
    selects = []
    for name, first, second in _GROUPINGS:
        keys = [k for k in (first, second) if k]
        columns = ", ".join(
            f"{next((k for k in keys if key_columns[k] == alias), 'NULL')} AS {alias}"
            for alias in ("kp", "ks", "kt", "kc", "kw")
        )
        source, aggregates = (
            ("s", stay_aggregates)
            if name == "stage"
            else ("c", cycle_aggregates if name in _TIMED else count_aggregates)
        )
        selects.append(
            f"SELECT '{name}' AS g, {columns}, {aggregates} "  # noqa: S608  # nosec B608
            f"FROM {source} GROUP BY {', '.join(keys)}"  # constant names; values are parameters
        )
    sql = (
        f"WITH c AS ({cycles_sql}), s AS ({stays_sql}) "  # noqa: S608  # nosec B608
        + " UNION ALL ".join(selects)
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, (*cycles_params, *stays_params))
        names = [col[0] for col in cursor.description]
        raw = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    rows = []
    by_name = {name: (first, second) for name, first, second in _GROUPINGS}
    for r in raw:
        first, second = by_name[r["g"]]
        row = {
            "g": r["g"],
            "k1": r[key_columns[first]],
            "k2": r[key_columns[second]] if second else None,
            **{k: int(r[k] or 0) for k in (*_COUNT_KEYS, "missed", "n_respond", "n_resolve")},
        }
        for k in ("mtta_mean", "mtta_median", "mttr_mean", "mttr_median"):
            row[k] = None if r[k] is None else float(r[k])
        rows.append(row)
    return rows


def stage_medians(scope: Scope) -> list[dict[str, Any]]:
    """Per stage (Assigned, Revise, Retest, Fixed): stays that ended in the period, their
    mean and median wall-clock seconds; `bottleneck` marks the longest median."""
    found = {
        r["k1"]: {"n": r["finished"], "mean": r["mttr_mean"], "median": r["mttr_median"]}
        for r in _cycle_groups(scope)
        if r["g"] == "stage"
    }
    rows: list[dict[str, Any]] = [
        {"status": str(s), "label": Status(s).label, "n": 0, "mean": None, "median": None}
        | found.get(str(s), {})
        for s in STAGES
    ]
    for r in rows:  # whole seconds (SQLite's julianday arithmetic is a float)
        for k in ("mean", "median"):
            r[k] = None if r[k] is None else float(round(r[k]))
    longest = max((r["median"] or 0 for r in rows), default=0)
    for r in rows:
        r["bottleneck"] = bool(longest) and r["median"] == longest
    return rows


def resolved_and_created_by_week(scope: Scope) -> list[dict[str, Any]]:
    """Per week: issues filed and cycles finished (resolved) — is the backlog growing?"""
    created = dict(
        scope.issues()
        .filter(created_at__gte=scope.start, created_at__lt=scope.end)
        .order_by()
        .annotate(week=_week("created_at", scope))
        .values("week")
        .annotate(n=Count("pk"))
        .values_list("week", "n")
    )
    resolved = {r["week"]: r["finished"] for r in compliance_by_week(scope)}
    return [
        {
            "week": w,
            "created": created.get(w, 0),
            "resolved": resolved.get(w, 0),
            "net": created.get(w, 0) - resolved.get(w, 0),
        }
        for w in scope.week_starts()
    ]


def breaches_by(rows: Iterable[dict[str, Any]], key: str) -> list[tuple[str, int]]:
    """Sum the (type, cause) groups by one of the keys, largest first."""
    sums: dict[str, int] = {}
    for row in rows:
        sums[row[key]] = sums.get(row[key], 0) + row["n"]
    return sorted(sums.items(), key=lambda kv: (-kv[1], kv[0]))


# --- open issues now -----------------------------------------------------------------------
def ageing(scope: Scope) -> list[dict[str, Any]]:
    """Open issues per severity in each age bucket (whole local days since filed)."""
    found: dict[int, dict[str, Any]] = {}
    for group in _open_groups(scope):
        acc = found.setdefault(group["severity"], dict.fromkeys(_BUCKET_KEYS, 0))
        for k in _BUCKET_KEYS:
            acc[k] += group[k]
    rows = []
    for sev in sorted(Severity, reverse=True):
        row: dict[str, Any] = found.get(int(sev), {})
        buckets: list[int] = [row.get(f"b{i}", 0) for i in range(len(AGE_BUCKETS))]
        rows.append(
            {"severity": int(sev), "label": sev.label, "buckets": buckets, "total": sum(buckets)}
        )
    return rows


def age_bucket_dates(scope: Scope, index: int) -> tuple[date | None, date]:
    """The inclusive local creation dates (after, before) of an ageing bucket."""
    _label, first, last = AGE_BUCKETS[index]
    before = scope.today - timedelta(days=first)
    after = scope.today - timedelta(days=last) if last is not None else None
    return after, before


def workload(scope: Scope) -> list[dict[str, Any]]:
    """Per owner (None: unassigned): open issues, at risk, breached, severity-weighted load."""
    owners: dict[int | None, dict[str, Any]] = {}
    for group in _open_groups(scope):
        row = owners.setdefault(
            group["owner_id"],
            {
                "owner_id": group["owner_id"],
                "owner__username": group["owner__username"],
                "owner__display_name": group["owner__display_name"],
                "open": 0,
                "at_risk": 0,
                "breached": 0,
                "weighted": 0,
            },
        )
        row["open"] += group["n"]
        row["weighted"] += group["n"] * SEVERITY_WEIGHTS.get(group["severity"], 1)
        if group["sla_state"] == SlaState.AT_RISK:
            row["at_risk"] += group["n"]
        elif group["sla_state"] == SlaState.BREACHED:
            row["breached"] += group["n"]
    return sorted(
        owners.values(),
        key=lambda r: (
            -r["weighted"],
            -r["open"],
            r["owner__username"] is None,
            r["owner__username"] or "",
        ),
    )


_BUCKET_KEYS = tuple(f"b{i}" for i in range(len(AGE_BUCKETS)))


def _open_groups(scope: Scope) -> list[dict[str, Any]]:
    """Open issues counted once per (owner, severity, SLA state): the "right now" counts,
    the ageing table and the workload are sums of these few groups, so the open issues are
    read in one pass (forecast and age buckets as conditional counts)."""
    if "open_groups" not in scope.memo:
        buckets = {}
        for i, (_label, first, last) in enumerate(AGE_BUCKETS):
            cond = Q(created_at__lt=scope.midnight(scope.today - timedelta(days=first - 1)))
            if last is not None:
                cond &= Q(created_at__gte=scope.midnight(scope.today - timedelta(days=last)))
            buckets[f"b{i}"] = Count("pk", filter=cond)
        groups = (
            annotate_sla_state(scope.open_issues(), scope.now)
            .order_by()
            .values("owner_id", "severity", "sla_state")  # type: ignore[misc]  # annotation
            .annotate(n=Count("pk"), soon=Count("pk", filter=forecast_condition(scope)), **buckets)
        )
        scope.memo["open_groups"] = _with_owner_names(groups)
    return scope.memo["open_groups"]


def _with_owner_names(groups: QuerySet) -> list[dict[str, Any]]:
    """The grouped rows plus each owner's names, joined after grouping (a few dozen rows)
    rather than to every open issue before it, where the names widen every sort key."""
    try:
        inner_sql, params = groups.query.sql_with_params()
    except EmptyResultSet:
        return []
    users = get_user_model()._meta.db_table
    sql = (
        "SELECT g.*, u.username AS owner__username, "  # noqa: S608  # nosec B608
        f'u.display_name AS owner__display_name FROM ({inner_sql}) g LEFT JOIN "{users}" u '
        "ON u.id = g.owner_id"  # constant names only; values are parameters
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [col[0] for col in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def lessons(scope: Scope, *, search: str = "", limit: int = 20) -> list[Issue]:
    """Closed issues with lessons learned (all time), newest first; `search` matches the
    lessons, the title, the resolution summary and the root-cause category."""
    qs = scope.issues().filter(status=Status.CLOSED).exclude(lessons_learned="")
    search = search.strip()
    if search:
        qs = qs.filter(
            Q(lessons_learned__icontains=search)
            | Q(title__icontains=search)
            | Q(resolution_summary__icontains=search)
            | Q(root_cause__icontains=search)
        )
    return list(qs.order_by("-updated_at", "-pk")[:limit])


# --- drill-down: exactly the issues behind a number ------------------------------------------
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
