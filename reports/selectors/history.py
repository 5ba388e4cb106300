"""History: finished SLA cycles (compliance, response and resolution times, breaches),
stage medians, issues resolved and created per week, lessons learned."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    Count,
    F,
    Q,
    QuerySet,
)

from issues.models import Issue, Status
from workflows.models import CycleOutcome

from ..aggregates import SecondsBetween
from .scope import STAGES, Scope, _week, _with_pct


def _outcome_counts() -> dict[str, Count]:
    return {
        "finished": Count("pk"),
        "met": Count("pk", filter=Q(outcome=CycleOutcome.MET)),
        "responded": Count(
            "pk", filter=Q(response_outcome__in=[CycleOutcome.MET, CycleOutcome.MISSED])
        ),
        "response_met": Count("pk", filter=Q(response_outcome=CycleOutcome.MET)),
    }


def compliance_grid(scope: Scope) -> list[dict[str, Any]]:
    """Per (priority, severity): finished cycles, met, responded, response met, and %."""
    rows = [r for r in _cycle_groups(scope) if r["g"] == "grid"]
    rows.sort(key=lambda r: (-r["k1"], -r["k2"]))
    return [_with_pct({"priority": r["k1"], "severity": r["k2"], **_counts_of(r)}) for r in rows]


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
    ("component", "c_component", None),  # the "by component" section (reports.shape)
    ("stage", "s_status", None),
)
_TIMED = ("priority", "severity")
# A key column's NULL where the first SELECT of the UNION would not tell its type.
_NULL_KEY = {"ki": "CAST(NULL AS bigint)"}  # the groupings that show MTTA / MTTR


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
            c_component=F("issue__component_id"),
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
            "c_component",
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
        "c_component": "ki",
    }
    selects = []
    for name, first, second in _GROUPINGS:
        keys = [k for k in (first, second) if k]
        columns = ", ".join(
            f"{next((k for k in keys if key_columns[k] == alias), _NULL_KEY.get(alias, 'NULL'))} "
            f"AS {alias}"
            for alias in ("kp", "ks", "kt", "kc", "kw", "ki")
        )
        if name == "stage":
            # One aggregate per stage over its own rows rather than GROUP BY status: the
            # grouping sorted all the period's stays by status before each median sorted its
            # group again (EXPLAIN: ~35 % of the statement's time went to the stays).
            for stage in STAGES:
                value = str(stage)
                if not value.isidentifier():  # a constant of the code, spelled into the SQL
                    raise ValueError(value)
                stage_columns = columns.replace("s_status AS kt", f"'{value}' AS kt")
                selects.append(
                    f"SELECT '{name}' AS g, {stage_columns}, "  # noqa: S608  # nosec B608
                    f"{stay_aggregates} FROM s WHERE s_status = '{value}'"
                )
            continue
        source, aggregates = "c", cycle_aggregates if name in _TIMED else count_aggregates
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


def cycles_by_component(scope: Scope) -> dict[int | None, dict[str, int]]:
    """Finished cycles of the period and how many met, per component (None: no component),
    from the period's one grouped statement."""
    return {
        r["k1"]: {"finished": r["finished"], "met": r["met"]}
        for r in _cycle_groups(scope)
        if r["g"] == "component"
    }


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
