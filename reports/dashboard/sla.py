"""SLA sections of the dashboard: right now, compliance, time to respond/resolve, breaches."""

from __future__ import annotations

from typing import Any

from issues.models import IssueType, Priority, Severity
from workflows.models import RootCause
from workflows.selectors import SlaState

from .. import charts, selectors
from ..selectors import Scope
from .cells import (
    OPEN_PARAMS,
    Cell,
    Section,
    Table,
    _count,
    _duration,
    _pct_cell,
    _week_label,
    drill_url,
    issue_list_url,
)


# --- sections ------------------------------------------------------------------------------
def right_now_section(scope: Scope) -> Section:
    now = selectors.right_now(scope)
    counts = Table(
        "now-counts",
        "Open issues right now",
        ["State", "Issues"],
        [
            [Cell("Breached"), _count(now.breached, issue_list_url(scope, [("sla", "breached")]))],
            [Cell("At risk"), _count(now.at_risk, issue_list_url(scope, [("sla", "at_risk")]))],
            [
                Cell(f"Forecast to breach within {selectors.FORECAST_HOURS} business hours"),
                _count(now.forecast, drill_url(scope, "forecast")),
            ],
            [Cell("Paused"), _count(now.paused, issue_list_url(scope, [("sla", "paused")]))],
            [Cell("Open"), _count(now.open, issue_list_url(scope, OPEN_PARAMS))],
        ],
    )
    urgent = Table(
        "now-urgent",
        "Most urgent first",
        ["Issue", "Title", "SLA", "Time left", "Due", "Owner", "Team", "Severity"],
    )
    for issue in now.urgent:
        state = issue.sla_state
        label = SlaState.LABELS.get(state, state)
        if issue.forecast and state == SlaState.ON_TRACK:
            label = "Forecast to breach"
        urgent.rows.append(
            [
                Cell(issue.key, issue.get_absolute_url()),
                Cell(issue.title),
                Cell(label, css=f"sla-{state}"),
                Cell(
                    issue.time_left.short,
                    value=issue.time_left.sort_seconds,
                ),
                Cell("", value=issue.resolution_due_at, css="when"),
                Cell(str(issue.owner) if issue.owner else "Unassigned"),
                Cell(str(issue.team) if issue.team else "—"),
                Cell(
                    Severity(issue.severity).label,
                    css=f"sev-{Severity(issue.severity).name.lower()}",
                ),
            ]
        )
    return Section(
        "now",
        "Right now",
        "Open issues at this moment (the period does not apply); breaches of finished cycles "
        "are history, further down.",
        [counts, urgent],
        extra={"now": now},
    )


def compliance_section(scope: Scope) -> Section:
    grid = selectors.compliance_grid(scope)
    overall = selectors.total(grid)
    weekly = selectors.compliance_by_week(scope)
    table = Table(
        "compliance",
        "Compliance per priority × severity",
        [
            "Priority",
            "Severity",
            "Finished cycles",
            "Met resolution",
            "Resolution %",
            "Response measured",
            "Met response",
            "Response %",
        ],
    )
    for row in [*grid, {**overall, "priority": None, "severity": None}]:
        p, s = row["priority"], row["severity"]
        base: dict[str, Any] = {"priority": p, "severity": s}
        table.rows.append(
            [
                Cell(Priority(p).label if p else "All", value=p or "all"),
                Cell(Severity(s).label if s else "All", value=s or "all"),
                _count(row["finished"], drill_url(scope, "finished", **base)),
                _count(row["met"], drill_url(scope, "finished", outcome="met", **base)),
                _pct_cell(row["met_pct"], drill_url(scope, "finished", outcome="missed", **base)),
                _count(row["responded"], drill_url(scope, "finished", response_measured=1, **base)),
                _count(
                    row["response_met"],
                    drill_url(scope, "finished", response_outcome="met", **base),
                ),
                _pct_cell(
                    row["response_pct"],
                    drill_url(scope, "finished", response_outcome="missed", **base),
                ),
            ]
        )
    trend = Table(
        "compliance-weekly",
        "Compliance per week",
        ["Week of", "Finished cycles", "Resolution %", "Response measured", "Response %"],
    )
    for w in weekly:
        week = w["week"].isoformat()
        trend.rows.append(
            [
                Cell(week),
                _count(w["finished"], drill_url(scope, "finished", week=week)),
                _pct_cell(w["met_pct"], drill_url(scope, "finished", week=week, outcome="missed")),
                _count(
                    w["responded"], drill_url(scope, "finished", week=week, response_measured=1)
                ),
                _pct_cell(
                    w["response_pct"],
                    drill_url(scope, "finished", week=week, response_outcome="missed"),
                ),
            ]
        )
    by_key = {(r["priority"], r["severity"]): r for r in grid}
    priorities = sorted(Priority, reverse=True)
    severities = sorted(Severity, reverse=True)
    heat = charts.heatmap(
        chart_id="chart-compliance",
        title="Resolution target met, per priority and severity",
        rows=[p.label for p in priorities],
        columns=[s.label for s in severities],
        values=[
            [by_key.get((int(p), int(s)), {}).get("met_pct") for s in severities]
            for p in priorities
        ],
        hrefs=[
            [
                drill_url(scope, "finished", priority=int(p), severity=int(s), outcome="missed")
                for s in severities
            ]
            for p in priorities
        ],
    )
    line = charts.line_chart(
        chart_id="chart-compliance-weekly",
        title="Compliance per week",
        categories=[_week_label(w["week"]) for w in weekly],
        series=[
            charts.Series(
                "Resolution met",
                [w["met_pct"] for w in weekly],
                [drill_url(scope, "finished", week=w["week"].isoformat()) for w in weekly],
            ),
            charts.Series(
                "Response met",
                [w["response_pct"] for w in weekly],
                [
                    drill_url(scope, "finished", week=w["week"].isoformat(), response_measured=1)
                    for w in weekly
                ],
            ),
        ],
    )
    return Section(
        "compliance",
        "SLA compliance",
        "Finished SLA cycles (clock stopped at Fixed or closed) in the period; a reopened "
        "issue starts a new cycle. Percentages link to the cycles that missed.",
        [table, trend],
        [heat, line],
        extra={"overall": overall, "overall_href": drill_url(scope, "finished")},
    )


def _mtt_table(scope: Scope, by: str) -> Table:
    rows = selectors.time_to_respond_and_resolve(scope, by)
    choices = Priority if by == "priority" else Severity
    table = Table(
        f"mtt-{by}",
        f"Time to assign and to resolve per {by} (business time)",
        [
            by.title(),
            "Cycles assigned",
            "MTTA mean",
            "MTTA median",
            "Cycles resolved",
            "MTTR mean",
            "MTTR median",
        ],
        csv_columns=[
            by,
            "cycles_assigned",
            "mtta_mean_hours",
            "mtta_median_hours",
            "cycles_resolved",
            "mttr_mean_hours",
            "mttr_median_hours",
        ],
    )
    for r in rows:
        k = r["key"]
        assigned = drill_url(scope, "finished", responded=1, **{by: k})
        resolved = drill_url(scope, "finished", **{by: k})
        table.rows.append(
            [
                Cell(str(choices(k).label), value=k),
                _count(r["n_respond"], assigned),
                _duration(r["mtta_mean"], assigned, business=True),
                _duration(r["mtta_median"], assigned, business=True),
                _count(r["n_resolve"], resolved),
                _duration(r["mttr_mean"], resolved, business=True),
                _duration(r["mttr_median"], resolved, business=True),
            ]
        )
    return table


def mtt_section(scope: Scope) -> Section:
    by_priority = _mtt_table(scope, "priority")
    by_severity = _mtt_table(scope, "severity")
    cats = [r[0].text for r in by_severity.rows]
    chart = charts.bar_chart(
        chart_id="chart-mtt",
        title="Median time to assign and to resolve per severity (business hours)",
        categories=cats,
        series=[
            charts.Series(
                "MTTA median",
                [r[3].value or None for r in by_severity.rows],
                [r[3].href for r in by_severity.rows],
            ),
            charts.Series(
                "MTTR median",
                [r[6].value or None for r in by_severity.rows],
                [r[6].href for r in by_severity.rows],
            ),
        ],
        unit=" h",
    )
    return Section(
        "mtt",
        "Time to assign and to resolve",
        "Business time on the SLA clock (pauses excluded) of the cycles finished in the "
        "period: to the first assignment (MTTA) and until the clock stopped (MTTR).",
        [by_priority, by_severity],
        [chart],
    )


def breaches_section(scope: Scope) -> Section:
    rows = selectors.breaches(scope)
    by_type = Table("breaches-type", "Breaches by type", ["Type", "Missed cycles"])
    for value, n in selectors.breaches_by(rows, "type"):
        by_type.rows.append(
            [
                Cell(IssueType(value).label if value in IssueType.values else value, value=value),
                _count(n, drill_url(scope, "finished", outcome="missed", type=value)),
            ]
        )
    by_cause = Table(
        "breaches-cause", "Breaches by root-cause category", ["Root cause", "Missed cycles"]
    )
    for value, n in selectors.breaches_by(rows, "root_cause"):
        label = RootCause(value).label if value in RootCause.values else "Not recorded"
        by_cause.rows.append(
            [
                Cell(label, value=value or "none"),
                _count(n, drill_url(scope, "finished", outcome="missed", cause=value or "none")),
            ]
        )
    made = [
        charts.hbar_chart(
            chart_id=f"chart-{t.slug}",
            title=t.title,
            categories=[r[0].text for r in t.rows],
            values=[float(r[1].value) for r in t.rows],
            hrefs=[r[1].href for r in t.rows],
        )
        for t in (by_type, by_cause)
        if t.rows
    ]
    return Section(
        "breaches",
        "Breaches",
        "Finished cycles in the period that missed the resolution target.",
        [by_type, by_cause],
        made,
    )
