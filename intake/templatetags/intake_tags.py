"""Intake pieces for other templates.

Contract: `{% load intake_tags %}`, then `{% issue_events_panel issue %}` (the card in the
issue page's side panel: totals, first/last seen and the chart) or
`{% issue_occurrence_chart issue %}` (the chart alone) (per-day event counts of the monitoring groups feeding the issue; renders
nothing for issues filed by hand), or `{% occurrence_chart counts %}` with (day, count) pairs.
The chart is server-side SVG (no inline style or script: CSP).
"""

from django import template

from intake.sdk_events import display_event
from intake.selectors import (
    daily_counts_for_issue,
    latest_sdk_events,
    occurrence_summary,
    sdk_event_of_issue,
)

register = template.Library()

WIDTH, HEIGHT, GAP = 300, 60, 1


def chart_context(counts) -> dict:
    counts = list(counts)
    if not counts:
        return {"bars": [], "total": 0}
    peak = max(c for _, c in counts) or 1
    slot = WIDTH / len(counts)
    bars = []
    for i, (day, count) in enumerate(counts):
        h = round(HEIGHT * count / peak, 1) if count else 0
        bars.append(
            {
                "x": round(i * slot, 2),
                "y": round(HEIGHT - h, 1),
                "w": round(max(slot - GAP, 1), 2),
                "h": h,
                "day": day,
                "count": count,
            }
        )
    return {
        "bars": bars,
        "total": sum(c for _, c in counts),
        "peak": peak,
        "first": counts[0][0],
        "last": counts[-1][0],
        "width": WIDTH,
        "height": HEIGHT,
    }


@register.inclusion_tag("intake/_chart.html")
def occurrence_chart(counts):
    return chart_context(counts)


@register.inclusion_tag("intake/_chart.html")
def issue_occurrence_chart(issue):
    return chart_context(daily_counts_for_issue(issue))


@register.inclusion_tag("intake/_issue_events.html")
def issue_events_panel(issue):
    """The issue page's side-panel card: events from monitoring tools (nothing for issues
    filed by hand). One query for those, two for intake issues."""

    summary = occurrence_summary(issue)
    if summary is None:
        return {"summary": None}
    return {"summary": summary, **chart_context(summary["days"])}


@register.inclusion_tag("intake/_sdk_error.html")
def sdk_error_panel(issue, event_id=None):
    """The issue page's error panel for issues fed by Sentry SDKs: the newest event (or the
    one asked for) shown whole, and the latest events. One query for other issues."""
    events = latest_sdk_events(issue)
    if not events:
        return {"event": None}
    chosen = sdk_event_of_issue(issue, event_id or events[0].event_id) or events[0]
    return {
        "issue": issue,
        "events": events,
        "event": chosen,
        "error": display_event(chosen.payload if isinstance(chosen.payload, dict) else {}),
    }
