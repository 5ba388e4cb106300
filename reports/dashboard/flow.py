"""Flow sections of the dashboard: time in each stage, ageing, created vs resolved, workload."""

from __future__ import annotations

from datetime import date, timedelta

from .. import charts, selectors
from ..selectors import Scope
from .cells import (
    OPEN_PARAMS,
    Cell,
    Section,
    Table,
    _count,
    _duration,
    _week_label,
    drill_url,
    issue_list_url,
)


def stages_section(scope: Scope) -> Section:
    rows = selectors.stage_medians(scope)
    table = Table(
        "stages",
        "Time spent in each status",
        ["Status", "Stays", "Mean", "Median", "Bottleneck"],
        csv_columns=["status", "stays", "mean_hours", "median_hours", "bottleneck"],
    )
    for r in rows:
        href = drill_url(scope, "stage", stage=r["status"])
        table.rows.append(
            [
                Cell(r["label"], value=r["status"]),
                _count(r["n"], href),
                _duration(r["mean"], href if r["n"] else ""),
                _duration(r["median"], href if r["n"] else ""),
                Cell(
                    "Bottleneck" if r["bottleneck"] else "", value="yes" if r["bottleneck"] else ""
                ),
            ]
        )
    chart = charts.hbar_chart(
        chart_id="chart-stages",
        title="Median time in each status (hours)",
        categories=[r["label"] for r in rows],
        values=[round(r["median"] / 3600, 1) if r["median"] is not None else None for r in rows],
        hrefs=[drill_url(scope, "stage", stage=r["status"]) for r in rows],
        highlight={i for i, r in enumerate(rows) if r["bottleneck"]},
        unit=" h",
    )
    return Section(
        "stages",
        "Where time goes",
        "Stays in each status that ended in the period, in wall-clock time; the status with "
        "the longest median is the bottleneck.",
        [table],
        [chart],
        extra={"bottleneck": next((r["label"] for r in rows if r["bottleneck"]), "")},
    )


def ageing_section(scope: Scope) -> Section:
    rows = selectors.ageing(scope)
    labels = [b[0] for b in selectors.AGE_BUCKETS]
    table = Table("ageing", "Open issues by age", ["Severity", *labels, "Total"])
    for r in rows:
        cells = [Cell(r["label"], value=r["severity"])]
        for i, n in enumerate(r["buckets"]):
            after, before = selectors.age_bucket_dates(scope, i)
            params = [*OPEN_PARAMS, ("severity", str(r["severity"]))]
            if after:
                params.append(("created_after", after.isoformat()))
            params.append(("created_before", before.isoformat()))
            cells.append(_count(n, issue_list_url(scope, params)))
        cells.append(
            _count(
                r["total"],
                issue_list_url(scope, [*OPEN_PARAMS, ("severity", str(r["severity"]))]),
            )
        )
        table.rows.append(cells)
    chart = charts.bar_chart(
        chart_id="chart-ageing",
        title="Open issues by age and severity",
        categories=labels,
        series=[
            charts.Series(
                r["label"],
                [float(n) for n in r["buckets"]],
                [c.href for c in table.rows[k][1:-1]],
                css=f"sev-fill-{r['label'].lower()}",
            )
            for k, r in enumerate(rows)
        ],
        stacked=True,
    )
    return Section(
        "ageing",
        "Ageing of open issues",
        "Whole days since the issue was filed, in your time zone.",
        [table],
        [chart],
    )


def flow_section(scope: Scope) -> Section:
    weeks = selectors.resolved_and_created_by_week(scope)
    table = Table(
        "flow", "Created versus resolved per week", ["Week of", "Created", "Resolved", "Net"]
    )
    for w in weeks:
        monday: date = w["week"]
        after = max(monday, scope.first_day)
        before = min(monday + timedelta(days=6), scope.last_day)
        table.rows.append(
            [
                Cell(monday.isoformat()),
                _count(
                    w["created"],
                    issue_list_url(
                        scope,
                        [
                            ("created_after", after.isoformat()),
                            ("created_before", before.isoformat()),
                        ],
                    ),
                ),
                _count(w["resolved"], drill_url(scope, "finished", week=monday.isoformat())),
                Cell(f"{w['net']:+d}", value=w["net"]),
            ]
        )
    chart = charts.bar_chart(
        chart_id="chart-flow",
        title="Created versus resolved per week",
        categories=[_week_label(w["week"]) for w in weeks],
        series=[
            charts.Series(
                "Created", [w["created"] for w in weeks], [r[1].href for r in table.rows]
            ),
            charts.Series(
                "Resolved", [w["resolved"] for w in weeks], [r[2].href for r in table.rows]
            ),
        ],
    )
    growing = sum(w["net"] for w in weeks)
    return Section(
        "flow",
        "Created versus resolved",
        "Issues filed and SLA cycles finished per week (weeks start on Monday, your zone).",
        [table],
        [chart],
        extra={"net": growing},
    )


def workload_section(scope: Scope) -> Section:
    rows = selectors.workload(scope)
    weights = ", ".join(f"{s.label} {w}" for s, w in selectors.SEVERITY_WEIGHTS.items())
    table = Table(
        "workload",
        "Workload per owner",
        ["Owner", "Open", "At risk", "Breached", "Weighted load"],
    )
    for r in rows:
        owner = str(r["owner_id"]) if r["owner_id"] else "unassigned"
        name = r["owner__display_name"] or r["owner__username"] or "Unassigned"
        table.rows.append(
            [
                Cell(name, value=r["owner__username"] or "unassigned"),
                _count(r["open"], issue_list_url(scope, [("owner", owner), *OPEN_PARAMS])),
                _count(r["at_risk"], issue_list_url(scope, [("owner", owner), ("sla", "at_risk")])),
                _count(
                    r["breached"], issue_list_url(scope, [("owner", owner), ("sla", "breached")])
                ),
                _count(r["weighted"], issue_list_url(scope, [("owner", owner), *OPEN_PARAMS])),
            ]
        )
    top = table.rows[:15]
    chart = charts.bar_chart(
        chart_id="chart-workload",
        title="Open issues per owner: at risk, breached and the rest",
        categories=[r[0].text for r in top],
        series=[
            charts.Series(
                "Breached", [float(r[3].value) for r in top], [r[3].href for r in top], "chart-bad"
            ),
            charts.Series(
                "At risk", [float(r[2].value) for r in top], [r[2].href for r in top], "chart-warn"
            ),
            charts.Series(
                "Other open",
                [float(r[1].value - r[2].value - r[3].value) for r in top],
                [r[1].href for r in top],
            ),
        ],
        stacked=True,
    )
    return Section(
        "workload",
        "Workload per owner",
        f"Open issues now; weighted load counts each issue by severity ({weights}).",
        [table],
        [chart],
    )
