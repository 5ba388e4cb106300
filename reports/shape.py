"""Figures by component (the dashboard's grouping) and of one version (its page), read with
the dashboard's own rules: `Scope` for access and filters, `annotate_sla_state` for the SLA
state, finished cycles for compliance (`selectors.total`), the same severity weights."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from accounts.actors import Actor
from issues.models import OPEN_STATUSES, Issue
from projects.models import Component, Version
from workflows.selectors import SlaState, annotate_sla_state

from .selectors import (
    SEVERITY_WEIGHTS,
    Scope,
    _pct,
    compliance_grid,
    cycles_by_component,
    open_groups_by_component,
    total,
)

# A version's compliance counts every finished cycle of its issues.
ALL_TIME = date(2000, 1, 1)


# The weight of an issue whose severity has none (by component).
_OTHER_WEIGHT = 2


def by_component(scope: Scope) -> list[dict[str, Any]]:
    """Per component of the visible projects (no component: one row too): open issues now,
    at risk, breached, weighted load; and the finished cycles of the period, met and %.
    The open issues' groups come from the owners' grouping statement, the period's cycles
    from the dashboard's one period statement (`cycles_by_component`), and one query for the
    names."""
    # One group per (component, severity, SLA state), from the same pass over the open
    # issues as the owners' groups; the weights are applied to the few groups.
    open_rows = open_groups_by_component(scope)
    rows: dict[int | None, dict[str, Any]] = {}
    empty = {"open": 0, "at_risk": 0, "breached": 0, "weighted": 0, "finished": 0, "met": 0}
    for group in open_rows:
        row = rows.setdefault(group["component_id"], dict(empty))
        n = group["n"]
        row["open"] += n
        row["weighted"] += n * SEVERITY_WEIGHTS.get(group["severity"], _OTHER_WEIGHT)
        if group["sla_state"] == SlaState.AT_RISK:
            row["at_risk"] += n
        elif group["sla_state"] == SlaState.BREACHED:
            row["breached"] += n
    for pk, cycle_row in cycles_by_component(scope).items():
        rows.setdefault(pk, dict(empty)).update(
            finished=cycle_row["finished"], met=cycle_row["met"]
        )
    names = {
        c.pk: c
        for c in Component.objects.filter(
            project_id__in=scope.visible_project_ids, pk__in=[k for k in rows if k]
        ).select_related("project")
    }
    out = []
    for pk, row in rows.items():
        component = names.get(pk) if pk else None
        if pk and component is None:
            continue
        out.append(
            {
                "component": component,
                "name": f"{component.project.key} · {component.name}" if component else "None",
                **row,
                "met_pct": _pct(row["met"], row["finished"]),
            }
        )
    out.sort(key=lambda r: (r["component"] is None, -r["weighted"], -r["open"], r["name"]))
    return out


@dataclass
class VersionFigures:
    open: int = 0
    closed: int = 0
    affected: int = 0
    compliance: dict[str, Any] = field(default_factory=dict)
    still_open: list[Issue] = field(default_factory=list)
    days_left: int | None = None
    since: date | None = None

    @property
    def days_overdue(self) -> int:
        return -self.days_left if self.days_left is not None and self.days_left < 0 else 0


def version_figures(user: Actor, version: Version, *, limit: int = 100) -> VersionFigures:
    """A version's page: issues planned for it (fix version) open and closed, issues that
    affect it, the SLA compliance of its issues' finished cycles of all time (the dashboard's `compliance_grid`/`total`, one rule), and what is still open,
    most urgent deadline first, with the days left to its due date."""
    tz = timezone.get_current_timezone()
    now = timezone.now()
    today = now.astimezone(tz).date()
    first = ALL_TIME
    scope = Scope(
        user=user,
        first_day=first,
        last_day=today,
        tz=tz,
        now=now,
        project_ids=(version.project_id,),
        fix_version_id=version.pk,
    )
    figures = VersionFigures(since=first)
    counts = scope.issues().aggregate(
        open=Count("pk", filter=Q(status__in=list(OPEN_STATUSES))),
        closed=Count("pk", filter=~Q(status__in=list(OPEN_STATUSES))),
    )
    figures.open, figures.closed = counts["open"], counts["closed"]
    figures.affected = Issue.objects.filter(
        affected_version=version, archived_at__isnull=True
    ).count()
    figures.compliance = total(compliance_grid(scope))
    figures.still_open = list(
        annotate_sla_state(scope.open_issues(), now)
        .select_related("project", "owner", "component")
        .order_by("resolution_due_at", "-priority", "pk")[:limit]
    )
    if version.due_date is not None:
        figures.days_left = (version.due_date - today).days
    return figures
