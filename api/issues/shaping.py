"""An issue as the API answers it: the list's summary, the full issue with its SLA and
transitions; another project's issue is 404."""

from datetime import datetime, timedelta

from django.http import HttpRequest

from api.auth import token_user
from customfields.selectors import api_values
from issues.models import EventKind, Issue, IssueEvent
from issues.selectors import get_issue_for_user
from issues.services import IssueError
from workflows.activity import reason_value
from workflows.selectors import SlaState, available_transitions, sla_state, sla_summary

from ..errors import ApiError


def _custom_field_error(error: IssueError) -> ApiError:
    field = error.field or ""
    if field.startswith("cf_"):
        field = f"custom_fields.{field[3:]}"
    return ApiError(400, "invalid_field", str(error), field=field)


def issue_out(request: HttpRequest, issue: Issue) -> dict:
    state = sla_state(issue)
    return {
        "key": issue.key,
        "project": issue.project.key,
        "title": issue.title,
        "description": issue.description,
        "type": issue.type,
        "status": issue.status,
        "priority": issue.priority,
        "priority_label": issue.get_priority_display(),
        "severity": issue.severity,
        "severity_label": issue.get_severity_display(),
        "reporter": issue.reporter.username,
        "owner": issue.owner.username if issue.owner else None,
        "team": issue.team.name if issue.team else None,
        "labels": [label.name for label in issue.labels.all()],
        "environment": issue.environment,
        "component": issue.component.name if issue.component else None,
        "affected_version": issue.affected_version.name if issue.affected_version else None,
        "fix_version": issue.fix_version.name if issue.fix_version else None,
        "version": issue.version,
        "created_at": issue.created_at,
        "updated_at": issue.updated_at,
        "sla": {
            "state": state,
            "label": SlaState.LABELS.get(state, state),
            "response_due_at": issue.response_due_at,
            "resolution_due_at": issue.resolution_due_at,
            "at_risk_at": issue.at_risk_at,
            "paused_since": issue.sla_paused_at,
        },
        "closure": {
            "resolution": issue.resolution,
            "resolution_label": issue.get_resolution_display() if issue.resolution else "",
            "resolution_summary": issue.resolution_summary,
            "root_cause": issue.root_cause,
            "root_cause_label": reason_value("root_cause", issue.root_cause),
            "lessons_learned": issue.lessons_learned,
            "closed_by": None,
            "closed_at": None,
        },
        "url": request.build_absolute_uri(issue.get_absolute_url()),
        "custom_fields": api_values(issue),
    }


def _closed(issue: Issue) -> tuple[str | None, datetime | None]:
    """Who closed a Closed issue and when (its latest Close / Close without fix)."""
    if issue.status != "closed":
        return None, None
    event = (
        IssueEvent.objects.filter(issue=issue, kind=EventKind.TRANSITIONED, new_value="closed")
        .select_related("actor")
        .order_by("-created_at", "-id")
        .first()
    )
    if event is None:
        return None, None
    return (event.actor.username if event.actor else "resolve"), event.created_at


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


def issue_detail_out(request: HttpRequest, issue: Issue) -> dict:
    summary = sla_summary(issue)
    comments = issue.comments.select_related("author").order_by("created_at", "id")
    out = issue_out(request, issue)
    out["closure"]["closed_by"], out["closure"]["closed_at"] = _closed(issue)
    return {
        **out,
        "sla_summary": {
            "cycle": summary.cycle,
            "outcome": summary.outcome,
            "target_minutes": int(summary.target.total_seconds()) // 60 if summary.target else None,
            "business_hours": summary.business_hours,
            "due_at": summary.due_at,
            "remaining_seconds": _seconds(summary.remaining),
            "overdue_seconds": _seconds(summary.overdue),
            "paused_reason": summary.paused_reason,
            "on_hold": summary.on_hold,
            "responded_at": summary.responded_at,
            "policy_version": summary.policy_version,
            "text": summary.text,
        },
        "comments": [
            {
                "id": c.pk,
                "author": c.author.username,
                "body": c.body,
                "body_html": str(c.body_rendered),
                "created_at": c.created_at,
            }
            for c in comments
        ],
        "available_transitions": [
            {
                "name": t.name,
                "label": t.label,
                "to": t.target,
                "fields": [{"name": f.name, "label": f.label, "need": f.need} for f in t.fields],
            }
            for t in available_transitions(issue, token_user(request))
        ],
    }


def _visible_issue(request: HttpRequest, key: str) -> Issue:
    """The issue through the pages' access selector (404 otherwise), with what `issue_out`
    shows loaded."""
    if "\x00" in key:
        raise ApiError(404, "not_found", "No such issue.")
    issue = get_issue_for_user(token_user(request), key)
    return (
        Issue.objects.select_related(
            "project", "reporter", "owner", "team", "component", "affected_version", "fix_version"
        )
        .prefetch_related("labels")
        .get(pk=issue.pk)
    )


def issue_summary_out(
    request: HttpRequest, issue: Issue, now: datetime, custom: dict[int, dict] | None = None
) -> dict:
    return {
        "key": issue.key,
        "project": issue.project.key,
        "title": issue.title,
        "type": issue.type,
        "status": issue.status,
        "priority": issue.priority,
        "severity": issue.severity,
        "owner": issue.owner.username if issue.owner else None,
        "reporter": issue.reporter.username,
        "team": issue.team.name if issue.team else None,
        "component": issue.component.name if issue.component else None,
        "affected_version": issue.affected_version.name if issue.affected_version else None,
        "fix_version": issue.fix_version.name if issue.fix_version else None,
        "labels": [label.name for label in issue.labels.all()],
        "sla_state": sla_state(issue, now),
        "resolution_due_at": issue.resolution_due_at,
        "created_at": issue.created_at,
        "updated_at": issue.updated_at,
        "url": request.build_absolute_uri(issue.get_absolute_url()),
        "custom_fields": (custom or {}).get(issue.pk, {}),
    }
