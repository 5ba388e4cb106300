"""Workflow pieces other apps' templates show: transition buttons, SLA badge and box.

Contract for the issue pages: `{% load workflow_tags %}`, then
`{% transition_buttons issue %}` next to the status, `{% sla_badge issue %}` in list rows,
`{% sla_box issue %}` and `{% stage_durations issue %}` in the side panel.

`sla_badge` reads the cached deadline columns plus, once per render, the projects' policies
(time left is business time; annotate the list with
`workflows.selectors.annotate_sla_outcome` to also show met/missed on finished issues).
"""

from html import escape

from django import template
from django.utils import timezone
from django.utils.safestring import mark_safe

from issues.models import Status
from projects.models import Role
from projects.selectors import is_manager, role_for_request, role_in_project

from ..activity import closure_record, current_hold, describe_event
from ..businesstime import format_duration
from ..forms import HoldForm, TransitionForm
from ..ledger import sla_explanation as explain_sla
from ..selectors import (
    SlaState,
    TimeLeft,
    available_transitions,
    current_policies,
    sla_state,
    sla_summary,
    time_left,
    time_left_of,
)
from ..selectors import stage_durations as stage_durations_of

register = template.Library()

# One meaning, one colour (UI.md): text always says it too.
BADGE_CLASSES = {
    SlaState.ON_TRACK: "text-bg-success",
    SlaState.AT_RISK: "text-bg-warning",
    SlaState.BREACHED: "text-bg-danger",
    SlaState.PAUSED: "text-bg-secondary",
    "met": "border border-success text-success-emphasis",
    "missed": "border border-danger text-danger-emphasis",
}
ICONS = {
    SlaState.ON_TRACK: "bi-clock",
    SlaState.AT_RISK: "bi-hourglass-split",
    SlaState.BREACHED: "bi-exclamation-octagon",
    SlaState.PAUSED: "bi-pause-circle",
    "met": "bi-check-circle",
    "missed": "bi-x-circle",
}


@register.inclusion_tag("workflows/_transition_buttons.html", takes_context=True)
def transition_buttons(context, issue):
    request = context.get("request")
    user = getattr(request, "user", None)
    transitions = (
        available_transitions(issue, user, role=role_for_request(request, issue.project))
        if user is not None
        else []
    )
    return {
        "issue": issue,
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "transitions": [
            {
                "transition": t,
                "form": TransitionForm(transition=t, issue=issue) if t.fields else None,
                "to_label": Status(t.target).label,
            }
            for t in transitions
        ],
    }


@register.simple_tag(takes_context=True)
def sla_badge(context, issue):
    """The badge with the time left in the issue's own business time. The projects' policies
    are read once per template render (no query at all on a page that prefetched the issue's
    cycles); `render_sla_badge` takes a `TimeLeft` computed for many rows at once."""
    left = None
    prefetched = getattr(issue, "_prefetched_objects_cache", {}).get("sla_cycles")
    if prefetched is None and issue.resolution_due_at is not None and issue.is_open:
        policies = context.render_context.setdefault("sla_policies", {})
        if issue.project_id not in policies:
            policies.update(current_policies([issue.project_id]))
        calendar = policies[issue.project_id].calendar_for(issue.severity)
        left = time_left(issue, calendar)
    return render_sla_badge(issue, left)


_OUTCOME_BADGE = (
    '<span class="badge sla-badge {}"><i class="bi {}" aria-hidden="true"></i> SLA {}</span>'
)
_STATE_BADGE = (
    '<span class="badge sla-badge {}" title="{}" data-sla-state="{}">'
    '<i class="bi {}" aria-hidden="true"></i> {}{}</span>'
)


def render_sla_badge(issue, left: TimeLeft | None = None):
    # str.format with html.escape, not format_html: lists and boards render a badge per row
    # and format_html's lazy-string checks cost more than the escaping.
    now = timezone.now()
    state = getattr(issue, "sla_state", None) or sla_state(issue, now)
    if state == SlaState.NONE:
        outcome = getattr(issue, "sla_outcome", "")
        if outcome in ("met", "missed"):
            return mark_safe(  # noqa: S308  # nosec B308 B703 - constants only
                _OUTCOME_BADGE.format(BADGE_CLASSES[outcome], ICONS[outcome], outcome)
            )
        return ""
    due = issue.resolution_due_at
    if due is None:
        return ""
    if left is None:
        left = time_left_of(issue, now)
    detail = "" if state == SlaState.PAUSED else left.short
    title = f"Resolution due {timezone.localtime(due):%Y-%m-%d %H:%M %Z}"
    return mark_safe(  # noqa: S308  # nosec B308 B703 - every value escaped
        _STATE_BADGE.format(
            BADGE_CLASSES[state],
            escape(title),
            escape(state),
            ICONS[state],
            escape(SlaState.LABELS[state]),
            escape(f" · {detail}") if detail else "",
        )
    )


def sla_box_context(request, issue) -> dict:
    summary = sla_summary(issue)
    user = getattr(request, "user", None)
    may_hold = bool(
        user is not None
        and user.is_authenticated
        and issue.is_open
        and (
            user.is_superuser
            or issue.owner_id == user.pk
            or (
                role_for_request(request, issue.project)
                if request is not None
                else role_in_project(user, issue.project)
            )
            == Role.MANAGER
        )
    )
    return {
        "issue": issue,
        "summary": summary,
        "badge_class": BADGE_CLASSES.get(summary.state, "text-bg-light"),
        "icon": ICONS.get(summary.state, "bi-clock"),
        "may_hold": may_hold,
        "hold_form": HoldForm(),
        "request": request,
    }


@register.inclusion_tag("workflows/_sla_box.html", takes_context=True)
def sla_box(context, issue):
    ctx = sla_box_context(context.get("request"), issue)
    ctx["csrf_token"] = context.get("csrf_token")
    return ctx


@register.inclusion_tag("workflows/_stage_durations.html")
def stage_durations(issue):
    return {"issue": issue, "cycles": stage_durations_of(issue)}


@register.simple_tag
def event_view(event):
    """An activity entry as it reads: `{% event_view event as view %}` then `view.actor`,
    `view.sentence` (safe HTML) and `view.reasons` ([label, text] pairs: the why)."""
    return describe_event(event)


@register.inclusion_tag("workflows/_issue_story.html")
def issue_story(issue):
    """At the top of the issue page: the closure record of a Fixed/Closed issue and why a
    held clock is on hold (nothing, and no query, for an open issue that is not held)."""
    return {"issue": issue, "closure": closure_record(issue), "hold": current_hold(issue)}


@register.inclusion_tag("workflows/_sla_explanation.html")
def sla_explanation(issue):
    """Under the SLA box's figures: which policy version, calendar and target applied, the
    time paused and why, and a link to the ledger."""
    return {"issue": issue, "explanation": explain_sla(issue)}


@register.filter
def duration(value):
    """A timedelta as '3 h 12 min'."""
    return format_duration(value) if value is not None else ""


@register.inclusion_tag("workflows/_settings_links.html", takes_context=True)
def workflow_settings_links(context, project):
    """Links to the project's workflow and SLA settings, for its Managers."""

    request = context.get("request")
    user = getattr(request, "user", None)
    show = bool(user and user.is_authenticated and is_manager(user, project))
    return {"project": project, "show": show}
