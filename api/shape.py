"""A project's components and versions, and an issue's place in them, for people's scripts.

Reads follow the pages' access rule (a project you cannot see is 404, never its
components). Writes go through the services: `projects.services` (Managers only, 403) and
`issues.services.update_issue`, which refuses a component or version of another project.
Components and versions are named by their name within the issue's project: a name the
project does not have is 422 with `field` naming it.
"""

from datetime import date

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from issues.models import Issue
from issues.selectors import get_issue_for_user
from issues.services import IssueError, StaleIssueError
from projects.models import Component, Project, Version
from projects.selectors import get_project_for_user
from projects.services import ProjectShapeError, create_component, create_version
from workflows.issue_use_cases import update_issue

from .auth import PersonalTokenAuth, token_user
from .errors import ApiError, ErrorOut
from .issues import IssueOut, issue_out
from .issues import router as issues_router
from .shape_names import resolve_shape

router = Router(tags=["components and versions"], auth=PersonalTokenAuth())


class ComponentOut(Schema):
    id: int
    name: str
    description: str
    lead: str | None
    default_team: str | None
    archived: bool


class ComponentIn(Schema):
    name: str = Field(..., min_length=1, max_length=80)
    description: str = Field("", max_length=2000)


class VersionOut(Schema):
    id: int
    name: str
    due_date: date | None
    released: bool


class VersionIn(Schema):
    name: str = Field(..., min_length=1, max_length=60)
    due_date: date | None = None
    released: bool = False


class IssueShapeIn(Schema):
    """Absent fields stay as they are; null clears one."""

    component: str | None = Field(None, max_length=80, description="A component's name")
    affected_version: str | None = Field(None, max_length=60, description="A version's name")
    fix_version: str | None = Field(None, max_length=60, description="A version's name")
    expected_version: int | None = Field(
        None, ge=1, le=2**31, description="The issue's `version` you read: refused if newer"
    )


def _component_out(c: Component) -> dict:
    return {
        "id": c.pk,
        "name": c.name,
        "description": c.description,
        "lead": c.lead.username if c.lead else None,
        "default_team": c.default_team.name if c.default_team else None,
        "archived": c.archived,
    }


def _version_out(v: Version) -> dict:
    return {"id": v.pk, "name": v.name, "due_date": v.due_date, "released": v.released}


def _project(request: HttpRequest, key: str) -> Project:
    if "\x00" in key:
        raise ApiError(404, "not_found", "No such project.")
    return get_project_for_user(token_user(request), key)


@router.get(
    "/{key}/components",
    response={200: list[ComponentOut], 401: ErrorOut, 404: ErrorOut},
    summary="The project's components (archived ones included, marked)",
)
def list_components(request: HttpRequest, key: str) -> Status:
    project = _project(request, key)
    rows = project.components.select_related("lead", "default_team")
    return Status(200, [_component_out(c) for c in rows])


@router.post(
    "/{key}/components",
    response={201: ComponentOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Add a component (Managers)",
)
def add_component(request: HttpRequest, key: str, payload: ComponentIn) -> Status:
    project = _project(request, key)
    try:
        component = create_component(
            project, actor=token_user(request), name=payload.name, description=payload.description
        )
    except ProjectShapeError as error:
        status = 422 if error.field else 403
        raise ApiError(status, "refused", str(error), field=error.field or "") from None
    return Status(201, _component_out(component))


@router.get(
    "/{key}/versions",
    response={200: list[VersionOut], 401: ErrorOut, 404: ErrorOut},
    summary="The project's versions",
)
def list_versions(request: HttpRequest, key: str) -> Status:
    project = _project(request, key)
    return Status(200, [_version_out(v) for v in project.versions.all()])


@router.post(
    "/{key}/versions",
    response={201: VersionOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Add a version (Managers)",
)
def add_version(request: HttpRequest, key: str, payload: VersionIn) -> Status:
    project = _project(request, key)
    try:
        version = create_version(
            project,
            actor=token_user(request),
            name=payload.name,
            due_date=payload.due_date,
            released=payload.released,
        )
    except ProjectShapeError as error:
        status = 422 if error.field else 403
        raise ApiError(status, "refused", str(error), field=error.field or "") from None
    return Status(201, _version_out(version))


# On the issues router: one route per path (`GET /issues/{key}` is there).
@issues_router.patch(
    "/{key}",
    response={200: IssueOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut,
              422: ErrorOut},
    summary="Set the issue's component, affected version and fix version",
    description="Names within the issue's project; another project's (or an archived "
    "component) is 422 and nothing is saved.",
)  # fmt: skip
def update_issue_shape(request: HttpRequest, key: str, payload: IssueShapeIn) -> Status:
    if "\x00" in key:
        raise ApiError(404, "not_found", "No such issue.")
    issue = get_issue_for_user(token_user(request), key)
    given = payload.model_dump(exclude_unset=True)
    expected = given.pop("expected_version", None)
    changes = resolve_shape(issue.project, given)
    try:
        update_issue(issue, actor=token_user(request), changes=changes, expected_version=expected)
    except StaleIssueError as error:
        raise ApiError(409, "stale", str(error)) from None
    except IssueError as error:
        raise ApiError(422, "invalid_field", str(error), field=error.field or "") from None
    fresh = (
        Issue.objects.select_related(
            "project", "reporter", "owner", "team", "component", "affected_version", "fix_version"
        )
        .prefetch_related("labels")
        .get(pk=issue.pk)
    )
    return Status(200, issue_out(request, fresh))
