"""Issues for people's scripts: `Authorization: Bearer rsp_…` (a personal API token).

Exactly the web pages' access rules: `issues.selectors.get_issue_for_user`,
`issues_visible_to` and `projects.selectors.get_project_for_user` (another project's issue
answers 404). Writes go through the same services as the pages: `create_issue`,
`add_comment`, `workflows.services.transition_issue`. The list uses the list page's
`issues.filters.IssueFilter` on the request's query string (one definition of the filters);
`IssueListQuery` only documents and type-checks those parameters (a test keeps them equal).
"""

from datetime import date, datetime
from typing import Any, Literal

from django.contrib.auth import get_user_model
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from customfields.selectors import api_values, api_values_for
from customfields.services import set_custom_values
from issues.filters import IssueFilter
from issues.limits import (
    AFFECTED_VERSION_MAX_CHARS,
    ENVIRONMENT_MAX_CHARS,
    REASON_MAX_CHARS,
    SEARCH_MAX_CHARS,
    TEXT_MAX_CHARS,
    TITLE_MAX_CHARS,
)
from issues.models import EventKind, Issue, IssueEvent, IssueType, Priority, Severity
from issues.selectors import get_issue_for_user, issues_visible_to
from issues.services import IssueError, add_comment
from projects.selectors import get_project_for_user
from workflows.activity import reason_value
from workflows.errors import StaleTransition, TransitionForbidden, WorkflowError
from workflows.issue_fields import file_issue_with_fields
from workflows.selectors import SlaState, available_transitions, sla_state, sla_summary
from workflows.services import transition_issue

from .auth import PersonalTokenAuth
from .errors import ApiError, ErrorOut
from .shape_names import resolve_shape

router = Router(tags=["issues"], auth=PersonalTokenAuth())

IssueTypeName = Literal[tuple(IssueType.values)]  # type: ignore[valid-type]


class SlaOut(Schema):
    state: str
    label: str
    response_due_at: datetime | None
    resolution_due_at: datetime | None
    at_risk_at: datetime | None
    paused_since: datetime | None


class CommentOut(Schema):
    id: int
    author: str
    body: str
    body_html: str = Field(..., description="The sanitised Markdown rendering the page shows.")
    created_at: datetime


class SlaSummaryOut(Schema):
    """The issue page's SLA box: the current cycle of the clock."""

    cycle: int
    outcome: str = Field(..., description="met / missed once the cycle stopped, else empty")
    target_minutes: int | None
    business_hours: bool
    due_at: datetime | None
    remaining_seconds: int | None = Field(..., description="Time left on the clock")
    overdue_seconds: int | None = Field(..., description="Wall-clock time since the deadline")
    paused_reason: str
    on_hold: bool
    responded_at: datetime | None
    policy_version: int | None
    text: str


class TransitionFieldOut(Schema):
    name: str
    label: str
    need: str


class TransitionOut(Schema):
    name: str
    label: str
    to: str
    fields: list[TransitionFieldOut]


class IssueSummaryOut(Schema):
    """One row of the issue list."""

    key: str
    project: str
    title: str
    type: str
    status: str
    priority: int
    severity: int
    owner: str | None
    reporter: str
    team: str | None
    component: str | None
    affected_version: str | None
    fix_version: str | None
    labels: list[str]
    sla_state: str
    resolution_due_at: datetime | None
    created_at: datetime
    updated_at: datetime
    url: str
    custom_fields: dict[str, Any] = Field(
        ...,
        description="The project's custom fields of the issue's type, keyed by slug: text, "
        "number, ISO date, choice label, list of labels (multiple choice), username, URL, or "
        "true/false; null when empty.",
    )


class IssuePageOut(Schema):
    count: int = Field(..., description="Matching issues, counted up to 10,000")
    count_capped: bool = Field(..., description="True when more than 10,000 match")
    page: int
    per_page: int
    pages: int
    next_page: int | None
    results: list[IssueSummaryOut]


class ClosureOut(Schema):
    resolution: str = Field(..., description="fixed, duplicate, wont_fix, … (empty while open)")
    resolution_label: str
    resolution_summary: str
    root_cause: str
    root_cause_label: str
    lessons_learned: str
    closed_by: str | None = Field(None, description="Username (issue detail only)")
    closed_at: datetime | None = Field(None, description="Issue detail only")


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
    component: str | None
    affected_version: str | None
    fix_version: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    sla: SlaOut
    closure: ClosureOut
    url: str
    custom_fields: dict[str, Any] = Field(
        ...,
        description="The project's custom fields of the issue's type, keyed by slug: text, "
        "number, ISO date, choice label, list of labels (multiple choice), username, URL, or "
        "true/false; null when empty.",
    )


class IssueDetailOut(IssueOut):
    sla_summary: SlaSummaryOut
    comments: list[CommentOut]
    available_transitions: list[TransitionOut] = Field(
        ..., description="What this token's user may do now (the page's buttons)."
    )


class IssueIn(Schema):
    project: str = Field(..., min_length=1, max_length=10, description="Project key, e.g. WEB.")
    title: str = Field(..., min_length=1, max_length=TITLE_MAX_CHARS)
    description: str = Field("", max_length=TEXT_MAX_CHARS)
    type: IssueTypeName = "bug"  # type: ignore[valid-type]
    priority: int = Field(int(Priority.MEDIUM), ge=1, le=3, description="1 low … 3 high")
    severity: int = Field(int(Severity.MINOR), ge=1, le=4, description="1 trivial … 4 critical")
    environment: str = Field("", max_length=ENVIRONMENT_MAX_CHARS)
    component: str | None = Field(None, max_length=80, description="A component's name")
    affected_version: str | None = Field(
        None, max_length=AFFECTED_VERSION_MAX_CHARS, description="A version's name"
    )
    fix_version: str | None = Field(None, max_length=60, description="A version's name")
    custom_fields: dict[str, Any] = Field(
        default_factory=dict,
        description="Custom values keyed by the field's slug, as `custom_fields` of an issue "
        "reads them (a choice by its label or its id): "
        "a slug that is no field of the project and type, a wrong type, an unknown choice or "
        "a user who is no member answers 400 naming `custom_fields.<slug>`; nothing is filed.",
    )


class CustomFieldsIn(Schema):
    custom_fields: dict[str, Any] = Field(
        ...,
        description="Only the slugs given change; null (or [] / false) empties a field.",
    )


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


def _seconds(value) -> int | None:
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
            "target_minutes": _seconds(summary.target) // 60 if summary.target else None,
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
            for t in available_transitions(issue, request.auth)
        ],
    }


def _visible_issue(request: HttpRequest, key: str) -> Issue:
    """The issue through the pages' access selector (404 otherwise), with what `issue_out`
    shows loaded."""
    if "\x00" in key:
        raise ApiError(404, "not_found", "No such issue.")
    issue = get_issue_for_user(request.auth, key)
    return (
        Issue.objects.select_related(
            "project", "reporter", "owner", "team", "component", "affected_version", "fix_version"
        )
        .prefetch_related("labels")
        .get(pk=issue.pk)
    )


# --- the list: the list page's filters ----------------------------------------------------

PAGE_SIZES = (25, 50, 100)  # as the list page offers


class IssueListQuery(Schema):
    """The list page's filters (`issues.filters.IssueFilter`), as query parameters; repeat a
    parameter for several values (`status=new&status=assigned`). Custom fields filter as on
    the page: `cf_<slug>=<choice id>` (choices, several allowed), `cf_<slug>=<username>`,
    `cf_<slug>_min` / `_max` (numbers), `cf_<slug>_after` / `_before` (dates),
    `cf_<slug>=yes|no` (checkboxes)."""

    q: str | None = Field(
        None,
        max_length=SEARCH_MAX_CHARS,
        description="Full-text search (title, description, comments)",
    )
    project: list[str] = Field([], description="Project ids (several allowed)")
    status: list[str] = Field([], description="new, assigned, revise, retest, fixed, closed")
    type: list[str] = Field([], description="bug, feature, task, improvement …")
    priority: list[str] = Field([], description="1 low … 3 high")
    severity: list[str] = Field([], description="1 trivial … 4 critical")
    owner: str | None = Field(None, description="A user id, `me` or `unassigned`")
    reporter: str | None = Field(None, description="A user id or `me`")
    team: str | None = Field(None, description="A team id")
    component: str | None = Field(None, description="A component id")
    affected_version: str | None = Field(None, description="A version id")
    fix_version: str | None = Field(None, description="A version id")
    label: str | None = Field(None, description="A label name (case-insensitive)")
    sla: str | None = Field(None, description="on_track, at_risk, breached, paused, none")
    created_after: date | None = None
    created_before: date | None = None
    updated_after: date | None = None
    updated_before: date | None = None
    keys: str | None = Field(None, description="Explicit issues, e.g. WEB-1,WEB-7")
    sort: str | None = Field(
        None, description="key, priority, severity, status, owner, due, updated, created; -x"
    )
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(50, description="25, 50 or 100")


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


@router.get(
    "",
    response={200: IssuePageOut, 400: ErrorOut, 401: ErrorOut},
    summary="List issues with the list page's filters (paginated)",
)
def list_issues(request: HttpRequest, filters: Query[IssueListQuery]):
    from django.utils import timezone

    from issues.views import CappedPaginator

    if filters.per_page not in PAGE_SIZES:
        raise ApiError(400, "invalid_field", "“per_page”: 25, 50 or 100.", field="per_page")
    base = (
        issues_visible_to(request.auth)
        .select_related("project", "owner", "reporter", "team", "component")
        .select_related("affected_version", "fix_version")
        .defer("description", "resolution_summary", "lessons_learned")
    )
    filterset = IssueFilter(request.GET, queryset=base, request=request)
    if not filterset.is_valid():
        field, errors = next(iter(filterset.errors.items()))
        raise ApiError(400, "invalid_field", f"“{field}”: {errors[0]}", field=field)
    paginator = CappedPaginator(
        filterset.qs.prefetch_related("labels"), filters.per_page, cap=filterset.count_cap
    )
    page = paginator.get_page(filters.page)
    rows = list(page)
    custom = api_values_for(rows)
    now = timezone.now()
    return Status(
        200,
        {
            "count": paginator.count,
            "count_capped": paginator.capped,
            "page": page.number,
            "per_page": filters.per_page,
            "pages": paginator.num_pages,
            "next_page": page.next_page_number() if page.has_next() else None,
            "results": [issue_summary_out(request, issue, now, custom) for issue in rows],
        },
    )


@router.get(
    "/{key}",
    response={200: IssueDetailOut, 401: ErrorOut, 404: ErrorOut},
    summary="Read one issue with its comments, SLA state and SLA summary",
)
def read_issue(request: HttpRequest, key: str):
    return Status(200, issue_detail_out(request, _visible_issue(request, key)))


# --- comments -------------------------------------------------------------------------------


class CommentIn(Schema):
    body: str = Field(
        ..., min_length=1, max_length=TEXT_MAX_CHARS, description="Markdown; @mentions"
    )


@router.post(
    "/{key}/comments",
    response={201: CommentOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut},
    summary="Comment on an issue",
)
def comment_issue(request: HttpRequest, key: str, payload: CommentIn):
    issue = _visible_issue(request, key)
    try:
        comment = add_comment(issue, author=request.auth, body=payload.body)
    except IssueError as error:
        raise ApiError(400, "invalid_field", str(error), field=error.field or "") from None
    return Status(
        201,
        {
            "id": comment.pk,
            "author": request.auth.username,
            "body": comment.body,
            "body_html": comment.body_html,
            "created_at": comment.created_at,
        },
    )


# --- transitions ----------------------------------------------------------------------------

# The fields rows of workflows.transitions.TRANSITIONS ask for (a test keeps them equal).
TRANSITION_FIELDS = (
    "owner",
    "reason",
    "fix_summary",
    "failure",
    "resolution_summary",
    "root_cause",
    "lessons_learned",
    "reopen_reason",
    "resolution",
    "duplicate_of",
)


class TransitionIn(Schema):
    """`to` and the fields the transition requires (see `available_transitions` of the issue
    and the lifecycle table); other fields are ignored."""

    to: str = Field(..., max_length=20, description="The target status, e.g. assigned")
    expected_status: str | None = Field(
        None,
        max_length=20,
        description="The status you saw; a different current status answers 409 (stale).",
    )
    owner: str | None = Field(None, max_length=150, description="Username of a Developer")
    reason: str | None = Field(None, max_length=REASON_MAX_CHARS)
    fix_summary: str | None = Field(None, max_length=REASON_MAX_CHARS)
    failure: str | None = Field(None, max_length=REASON_MAX_CHARS)
    resolution_summary: str | None = Field(None, max_length=REASON_MAX_CHARS)
    root_cause: str | None = Field(None, max_length=40)
    lessons_learned: str | None = Field(None, max_length=REASON_MAX_CHARS)
    reopen_reason: str | None = Field(None, max_length=REASON_MAX_CHARS)
    resolution: str | None = Field(
        None, max_length=40, description="duplicate, wont_fix, cannot_reproduce, invalid"
    )
    duplicate_of: str | None = Field(None, max_length=30, description="e.g. WEB-1")


def _workflow_error(exc: WorkflowError, data: dict[str, Any]) -> ApiError:
    if isinstance(exc, TransitionForbidden):
        code = "forbidden"
    elif isinstance(exc, StaleTransition):
        code = "stale"
    elif exc.field == "playbook":
        code = "playbook_incomplete"  # the template's playbook must be complete first
    elif exc.field and data.get(exc.field) in (None, ""):
        code = "missing_field"
    elif exc.field:
        code = "invalid_field"
    else:
        code = "transition_refused"
    return ApiError(exc.status_code, code, str(exc), field=exc.field or "")


@router.post(
    "/{key}/transitions",
    response={
        200: IssueDetailOut,
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        409: ErrorOut,
    },
    summary="Move an issue along the lifecycle (the workflow's rules apply)",
    description=(
        "400: no such transition or a required field is missing/invalid (`field` names it); "
        "403: your role may not take it (or the four-eyes rule); "
        "409: the issue is no longer in `expected_status`."
    ),
)
def transition(request: HttpRequest, key: str, payload: TransitionIn):
    issue = _visible_issue(request, key)
    data = {name: getattr(payload, name) for name in TRANSITION_FIELDS}
    data = {name: value for name, value in data.items() if value is not None}
    if "owner" in data:
        owner_id = (
            get_user_model()
            .objects.filter(username=data["owner"])
            .values_list("pk", flat=True)
            .first()
        )
        data["owner"] = owner_id or 0  # unknown: the workflow says who may own it
    try:
        transition_issue(
            issue,
            payload.to,
            actor=request.auth,
            expected_status=payload.expected_status or None,
            **data,
        )
    except WorkflowError as exc:
        raise _workflow_error(exc, data) from None
    return Status(200, issue_detail_out(request, _visible_issue(request, key)))


@router.post(
    "",
    response={201: IssueOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="File an issue",
    description="`component`, `affected_version`, `fix_version`: names within the project "
    "(422 naming the field when the project has none of that name).",
)
def file_issue(request: HttpRequest, payload: IssueIn):
    project = get_project_for_user(request.auth, payload.project)
    if project.archived_at is not None:
        raise ApiError(400, "archived_project", "This project is archived.", field="project")
    title = payload.title.strip()
    if not title:
        raise ApiError(400, "missing_field", "“title” is required.", field="title")
    try:
        issue = file_issue_with_fields(
            project,
            reporter=request.auth,
            custom_values=payload.custom_fields,
            title=title,
            description=payload.description,
            type=payload.type,
            priority=payload.priority,
            severity=payload.severity,
            environment=payload.environment.strip(),
            **resolve_shape(
                project,
                {
                    "component": payload.component,
                    "affected_version": payload.affected_version,
                    "fix_version": payload.fix_version,
                },
            ),
        )
    except IssueError as error:
        raise _custom_field_error(error) from None
    return Status(201, issue_out(request, issue))


@router.patch(
    "/{key}/custom-fields",
    response={200: IssueDetailOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut},
    summary="Change custom field values of an issue",
    description=(
        "Only the slugs given change, each recorded in the audit trail; all or nothing: "
        "400 names the first bad value (`custom_fields.<slug>`) and nothing is saved."
    ),
)
def change_custom_fields(request: HttpRequest, key: str, payload: CustomFieldsIn):
    issue = _visible_issue(request, key)
    try:
        set_custom_values(issue, actor=request.auth, values=payload.custom_fields)
    except IssueError as error:
        raise _custom_field_error(error) from None
    return Status(200, issue_detail_out(request, _visible_issue(request, key)))
