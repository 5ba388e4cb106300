"""The dashboard's sections: numbers from `selectors`, turned into tables (shown under each
chart and downloadable as CSV), charts and links to exactly the issues behind each number.

Links go to the issue list (`/issues/?…`) when its filters can express the set (SLA state,
status, owner, severity, creation dates), otherwise to `/dashboard/issues/?metric=…`, which
finds the issues with the same selector and hands them to the list as `?keys=…`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.safestring import SafeString

from issues.models import IssueType, Priority, Severity
from workflows.businesstime import format_business_duration, format_duration
from workflows.models import CycleOutcome, RootCause
from workflows.selectors import SlaState

from . import charts, selectors, shape
from .selectors import Scope


# --- cells, tables, sections -----------------------------------------------------------------
@dataclass
class Cell:
    text: str
    href: str = ""
    value: Any = None  # what the CSV gets (defaults to the text)
    css: str = ""

    @property
    def csv(self) -> Any:
        if isinstance(self.value, datetime):
            return self.value.isoformat()
        return self.text if self.value is None else self.value


@dataclass
class Table:
    slug: str
    title: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    # The CSV headers when they differ from the columns (e.g. units spelled out).
    csv_columns: list[str] | None = None


@dataclass
class Section:
    slug: str
    title: str
    intro: str = ""
    tables: list[Table] = field(default_factory=list)
    charts: list[SafeString] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


# --- links ---------------------------------------------------------------------------------
OPEN_PARAMS = [("status", s) for s in selectors.OPEN_VALUES]


def scope_params(scope: Scope) -> list[tuple[str, str]]:
    """The dashboard filters as issue-list filters (the period is not one of them)."""
    params = [("project", str(pk)) for pk in scope.project_ids]
    if scope.team_id:
        params.append(("team", str(scope.team_id)))
    if scope.type:
        params.append(("type", scope.type))
    if scope.severity:
        params.append(("severity", str(scope.severity)))
    return params


def issue_list_url(scope: Scope, params: list[tuple[str, str]]) -> str:
    given = {k for k, _ in params}
    merged = [p for p in scope_params(scope) if p[0] not in given] + params
    return f"{reverse('issue_list')}?{urlencode(merged)}"


def filter_params(scope: Scope) -> list[tuple[str, str]]:
    """The dashboard's own query string for this scope (the period as explicit dates)."""
    return [
        *scope_params(scope),
        ("range", "custom"),
        ("start", scope.first_day.isoformat()),
        ("end", scope.last_day.isoformat()),
    ]


def drill_url(scope: Scope, metric: str, **params: Any) -> str:
    given = set(params)
    base = [p for p in filter_params(scope) if p[0] not in given]
    extra = [(k, str(v)) for k, v in params.items() if v not in (None, "")]
    return f"{reverse('reports:drill')}?{urlencode([*base, ('metric', metric), *extra])}"


def _count(n: int, href: str) -> Cell:
    return Cell(str(n), href if n else "", n)


def _pct_cell(pct: float | None, href: str) -> Cell:
    if pct is None:
        return Cell("—", "", "")
    return Cell(f"{pct:g} %", href, pct)


def _duration(seconds: float | None, href: str = "", *, business: bool = False) -> Cell:
    """Wall-clock durations as '2 d 4 h'; business durations in business hours ('26 business
    h'), never in days: a business day is not 24 h."""
    if seconds is None:
        return Cell("—", "", "")
    amount = timedelta(seconds=seconds)
    text = format_business_duration(amount) if business else format_duration(amount)
    return Cell(text, href, round(seconds / 3600, 2))


def _week_label(monday: date) -> str:
    return monday.strftime("%d %b")


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
                Cell(choices(k).label, value=k),
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


def components_section(scope: Scope) -> Section:
    """Compliance and workload grouped by component (issues without one in a row of their
    own); links go to the list filtered by the component."""
    table = Table(
        "components",
        "Compliance and workload by component",
        ["Component", "Open", "At risk", "Breached", "Weighted load", "Finished", "Met %"],
    )
    for r in shape.by_component(scope):
        component = r["component"]

        def link(extra: list[tuple[str, str]], component=component) -> str:
            # The list cannot filter "no component": that row has no links.
            if component is None:
                return ""
            return issue_list_url(scope, [("component", str(component.pk)), *extra])

        table.rows.append(
            [
                Cell(r["name"]),
                _count(r["open"], link(OPEN_PARAMS)),
                _count(r["at_risk"], link([("sla", "at_risk")])),
                _count(r["breached"], link([("sla", "breached")])),
                _count(r["weighted"], link(OPEN_PARAMS)),
                Cell(str(r["finished"]), value=r["finished"]),
                _pct_cell(r["met_pct"], ""),
            ]
        )
    return Section(
        "components",
        "By component",
        "Open issues now and SLA cycles finished in the period, per component.",
        [table],
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


def lessons_section(scope: Scope, search: str = "") -> Section:
    found = selectors.lessons(scope, search=search)
    table = Table("lessons", "Lessons learned", ["Issue", "Title", "Root cause", "Lessons learned"])
    for issue in found:
        cause = issue.root_cause
        table.rows.append(
            [
                Cell(issue.key, issue.get_absolute_url()),
                Cell(issue.title),
                Cell(RootCause(cause).label if cause in RootCause.values else cause or "—"),
                Cell(issue.lessons_learned),
            ]
        )
    return Section(
        "lessons",
        "Lessons learned",
        "Recorded when issues were closed (all time, newest first).",
        [table],
        extra={"search": search},
    )


SECTIONS: dict[str, Callable[..., Section]] = {
    "now": right_now_section,
    "compliance": compliance_section,
    "mtt": mtt_section,
    "stages": stages_section,
    "ageing": ageing_section,
    "flow": flow_section,
    "workload": workload_section,
    "components": components_section,
    "breaches": breaches_section,
    "lessons": lessons_section,
}
# Which section holds each downloadable table.
TABLE_SECTION = {
    "now-counts": "now",
    "now-urgent": "now",
    "compliance": "compliance",
    "compliance-weekly": "compliance",
    "mtt-priority": "mtt",
    "mtt-severity": "mtt",
    "stages": "stages",
    "ageing": "ageing",
    "flow": "flow",
    "workload": "workload",
    "components": "components",
    "breaches-type": "breaches",
    "breaches-cause": "breaches",
    "lessons": "lessons",
}


def build(scope: Scope, *, search: str = "") -> dict[str, Section]:
    sections = {}
    for slug, builder in SECTIONS.items():
        sections[slug] = builder(scope, search) if slug == "lessons" else builder(scope)
    return sections


def build_table(scope: Scope, slug: str, *, search: str = "") -> Table | None:
    section_slug = TABLE_SECTION.get(slug)
    if section_slug is None:
        return None
    builder = SECTIONS[section_slug]
    section = builder(scope, search) if section_slug == "lessons" else builder(scope)
    return next(t for t in section.tables if t.slug == slug)


__all__ = ["CycleOutcome", "build", "build_table"]
