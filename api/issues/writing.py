"""Writing, through the pages' services: comment, transition, file an issue, set custom fields."""

from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest
from ninja import Field, Schema, Status

from api.auth import token_user
from customfields.services import set_custom_values
from issues.limits import (
    REASON_MAX_CHARS,
    TEXT_MAX_CHARS,
)
from issues.services import IssueError, add_comment
from projects.selectors import get_project_for_user
from workflows.errors import StaleTransition, TransitionForbidden, WorkflowError
from workflows.issue_fields import file_issue_with_fields
from workflows.services import transition_issue

from ..errors import ApiError, ErrorOut
from ..shape_names import resolve_shape
from .schemas import CommentOut, CustomFieldsIn, IssueDetailOut, IssueIn, IssueOut, router
from .shaping import _custom_field_error, _visible_issue, issue_detail_out, issue_out


class CommentIn(Schema):
    body: str = Field(
        ..., min_length=1, max_length=TEXT_MAX_CHARS, description="Markdown; @mentions"
    )


@router.post(
    "/{key}/comments",
    response={201: CommentOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut},
    summary="Comment on an issue",
)
def comment_issue(request: HttpRequest, key: str, payload: CommentIn) -> Status:
    issue = _visible_issue(request, key)
    try:
        comment = add_comment(issue, author=token_user(request), body=payload.body)
    except IssueError as error:
        raise ApiError(400, "invalid_field", str(error), field=error.field or "") from None
    return Status(
        201,
        {
            "id": comment.pk,
            "author": token_user(request).username,
            "body": comment.body,
            "body_html": comment.body_html,
            "created_at": comment.created_at,
        },
    )


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
def transition(request: HttpRequest, key: str, payload: TransitionIn) -> Status:
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
            actor=token_user(request),
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
def file_issue(request: HttpRequest, payload: IssueIn) -> Status:
    project = get_project_for_user(token_user(request), payload.project)
    if project.archived_at is not None:
        raise ApiError(400, "archived_project", "This project is archived.", field="project")
    title = payload.title.strip()
    if not title:
        raise ApiError(400, "missing_field", "“title” is required.", field="title")
    try:
        issue = file_issue_with_fields(
            project,
            reporter=token_user(request),
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
def change_custom_fields(request: HttpRequest, key: str, payload: CustomFieldsIn) -> Status:
    issue = _visible_issue(request, key)
    try:
        set_custom_values(issue, actor=token_user(request), values=payload.custom_fields)
    except IssueError as error:
        raise _custom_field_error(error) from None
    return Status(200, issue_detail_out(request, _visible_issue(request, key)))
