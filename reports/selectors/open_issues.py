"""Open issues now: their ages and each person's workload."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    Case,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)

from issues.models import Severity
from workflows.selectors import (
    SlaState,
    annotate_sla_state,
)

from .scope import AGE_BUCKETS, SEVERITY_WEIGHTS, Scope, forecast_condition


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
_SUMS = ("n", "soon", *_BUCKET_KEYS)


def _open_groups(scope: Scope) -> list[dict[str, Any]]:
    """Open issues counted once per (owner, severity, SLA state): the "right now" counts,
    the ageing table and the workload are sums of these few groups."""
    return _open_groupings(scope)[0]


def open_groups_by_component(scope: Scope) -> list[dict[str, Any]]:
    """Open issues counted once per (component, severity, SLA state), for the dashboard's
    "by component" section: from the same statement as `_open_groups`."""
    return _open_groupings(scope)[1]


def _open_groupings(scope: Scope) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The open issues are read in ONE pass for both groupings: each issue's SLA state, age
    bucket and forecast are worked out once (inner SELECT), then grouped by owner and by
    component at once (PostgreSQL's GROUPING SETS hash both in the same scan; elsewhere the
    groups of (owner, component, severity, state) are summed up in Python)."""
    if "open_groupings" not in scope.memo:
        scope.memo["open_groupings"] = _query_open_groupings(
            scope, grouping_sets=connection.vendor == "postgresql"
        )
    return scope.memo["open_groupings"]


def _open_rows(scope: Scope) -> QuerySet:
    """One row per open issue: the grouping keys, its age bucket and whether it is forecast."""
    whens = []
    for i, (_label, first, last) in enumerate(AGE_BUCKETS):
        cond = Q(created_at__lt=scope.midnight(scope.today - timedelta(days=first - 1)))
        if last is not None:
            cond &= Q(created_at__gte=scope.midnight(scope.today - timedelta(days=last)))
        whens.append(When(cond, then=Value(i)))
    return (
        annotate_sla_state(scope.open_issues(), scope.now)
        .order_by()
        .annotate(
            o_age=Case(*whens, default=Value(-1), output_field=IntegerField()),
            o_soon=Case(
                When(forecast_condition(scope), then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            ),
        )
        .values("owner_id", "component_id", "severity", "sla_state", "o_age", "o_soon")  # type: ignore[misc]  # annotations
    )


def _query_open_groupings(
    scope: Scope, *, grouping_sets: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    try:
        inner_sql, params = _open_rows(scope).query.sql_with_params()
    except EmptyResultSet:  # no visible project
        return [], []
    sums = ", ".join(
        f"SUM(CASE WHEN o_age = {i} THEN 1 ELSE 0 END) AS b{i}" for i in range(len(AGE_BUCKETS))
    )
    aggregates = f"COUNT(*) AS n, SUM(o_soon) AS soon, {sums}"
    if grouping_sets:
        by_owner = "GROUPING(component_id) AS by_owner"
        groups = (
            "GROUPING SETS ((owner_id, severity, sla_state), (component_id, severity, sla_state))"
        )
    else:
        by_owner = "0 AS by_owner"
        groups = "owner_id, component_id, severity, sla_state"
    users = get_user_model()._meta.db_table
    # The owners' names are joined to the few groups, not to every open issue (where they
    # would widen every row hashed).
    sql = (
        "SELECT g.*, u.username AS owner__username, "  # noqa: S608  # nosec B608
        "u.display_name AS owner__display_name FROM ("
        f"SELECT {by_owner}, owner_id, component_id, severity, sla_state, {aggregates} "
        f'FROM ({inner_sql}) i GROUP BY {groups}) g LEFT JOIN "{users}" u ON u.id = g.owner_id'
    )  # constant names only; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [col[0] for col in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        for k in _SUMS:
            row[k] = int(row[k] or 0)
    if grouping_sets:
        return (
            [r for r in rows if r["by_owner"]],
            [r for r in rows if not r["by_owner"]],
        )
    return (
        _summed(rows, ("owner_id", "severity", "sla_state")),
        _summed(rows, ("component_id", "severity", "sla_state")),
    )


def _summed(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    out: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in keys)
        if key not in out:
            out[key] = {**row, **dict.fromkeys(_SUMS, 0)}
        acc = out[key]
        for k in _SUMS:
            acc[k] += row[k]
    return list(out.values())
