"""Issues for people's scripts: `Authorization: Bearer rsp_…` (a personal API token).

Exactly the web pages' access rules: `issues.selectors.get_issue_for_user` and
`projects.selectors.get_project_for_user` (another project's issue answers 404).
"""

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from issues.models import Issue, IssueType, Priority, Severity
from issues.selectors import get_issue_for_user
from issues.services import create_issue
from projects.selectors import get_project_for_user
from workflows.selectors import SlaState, sla_state

from .auth import PersonalTokenAuth
from .errors import ApiError, ErrorOut

router = Router(tags=["issues"], auth=PersonalTokenAuth())

IssueTypeName = Literal[tuple(IssueType.values)]  # type: ignore[valid-type]


class SlaOut(Schema):
    state: str
    label: str
    response_due_at: datetime | None
    resolution_due_at: datetime | None
    at_risk_at: datetime | None
    paused_since: datetime | None


class IssueOut(Schema):
    key: str
    project: str
    title: str
    description: str
    type: str
    status: str
    priority: int
    priority_label: str
    severity: int
    severity_label: str
    reporter: str
    owner: str | None
    team: str | None
    labels: list[str]
    environment: str
    affected_version: str
    created_at: datetime
    updated_at: datetime
    sla: SlaOut
    url: str


class IssueIn(Schema):
    project: str = Field(..., min_length=1, max_length=10, description="Project key, e.g. WEB.")
    title: str = Field(..., min_length=1, max_length=200)
    description: str = Field("", max_length=50_000)
    type: IssueTypeName = "bug"  # type: ignore[valid-type]
    priority: int = Field(int(Priority.MEDIUM), ge=1, le=3, description="1 low … 3 high")
    severity: int = Field(int(Severity.MINOR), ge=1, le=4, description="1 trivial … 4 critical")
    environment: str = Field("", max_length=120)
    affected_version: str = Field("", max_length=60)


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
        "affected_version": issue.affected_version,
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
        "url": request.build_absolute_uri(issue.get_absolute_url()),
    }


@router.get(
    "/{key}",
    response={200: IssueOut, 401: ErrorOut, 404: ErrorOut},
    summary="Read one issue with its SLA state",
)
def read_issue(request: HttpRequest, key: str):
    if "\x00" in key:
        raise ApiError(404, "not_found", "No such issue.")
    issue = get_issue_for_user(request.auth, key)
    issue = (
        Issue.objects.select_related("project", "reporter", "owner", "team")
        .prefetch_related("labels")
        .get(pk=issue.pk)
    )
    return Status(200, issue_out(request, issue))


@router.post(
    "",
    response={201: IssueOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut},
    summary="File an issue",
)
def file_issue(request: HttpRequest, payload: IssueIn):
    project = get_project_for_user(request.auth, payload.project)
    if project.archived_at is not None:
        raise ApiError(400, "archived_project", "This project is archived.", field="project")
    title = payload.title.strip()
    if not title:
        raise ApiError(400, "missing_field", "“title” is required.", field="title")
    issue = create_issue(
        project,
        reporter=request.auth,
        title=title,
        description=payload.description,
        type=payload.type,
        priority=payload.priority,
        severity=payload.severity,
        environment=payload.environment.strip(),
        affected_version=payload.affected_version.strip(),
    )
    return Status(201, issue_out(request, issue))
