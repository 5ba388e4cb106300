"""Open issues now: their ages and each person's workload."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    Count,
    Q,
    QuerySet,
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
