"""Issue templates (read: the project's members; write: its Managers, a new version each time)
and an issue's playbook checklist (read; tick and untick: the owner, Managers, Developers).
The pages' access rules: another project's templates or issue answer 404."""

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from issues.models import Issue, IssueType
from issues.selectors import get_issue_for_user
from playbooks.models import TemplateVersion
from playbooks.selectors import checklist_of, current_version, templates_of
from playbooks.services import PlaybookError, TemplateDraft, save_template, tick_item
from projects.selectors import get_project_for_user

from .auth import PersonalTokenAuth, token_user
from .errors import ApiError, ErrorOut

templates_router = Router(tags=["templates"], auth=PersonalTokenAuth())
checklist_router = Router(tags=["playbooks"], auth=PersonalTokenAuth())


class PlaybookItemIO(Schema):
    text: str = Field(..., max_length=200)
    required: bool = False


class TemplateIn(Schema):
    description: str = Field("", max_length=20_000)
    priority: int | None = Field(None, description="1 low … 3 high; null: the form's default")
    severity: int | None = Field(None, description="1 trivial … 4 critical")
    labels: list[str] = Field([], description="Label names of the project")
    default_component_id: int | None = None
    shown_fields: list[str] = Field([], description="Slugs of the project's custom fields")
    playbook_name: str = Field("", max_length=80)
    items: list[PlaybookItemIO] = Field([], max_length=50)
    complete_before: str = Field("", description="retest, fixed or closed; empty: never")
    complete_min_severity: int | None = Field(None, description="Only from this severity on")


class TemplateOut(TemplateIn):
    type: str
    version: int
    created_at: datetime


class ChecklistItemOut(Schema):
    id: int
    text: str
    required: bool
    done: bool
    done_by: str
    done_at: datetime | None


class ChecklistOut(Schema):
    name: str
    template_version: int
    progress: str = Field(..., description="e.g. 3/5")
    complete_before: str
    complete_min_severity: int | None
    required_open: int
    items: list[ChecklistItemOut]


class TickIn(Schema):
    done: bool = True


def _template_out(version: TemplateVersion) -> dict:
    return {
        "type": version.template.type,
        "version": version.number,
        "created_at": version.created_at,
        "description": version.description,
        "priority": version.priority,
        "severity": version.severity,
        "labels": version.label_names,
        "default_component_id": version.default_component_id,
        "shown_fields": version.shown_fields,
        "playbook_name": version.playbook_name,
        "items": [{"text": i.text, "required": i.required} for i in version.items.all()],
        "complete_before": version.complete_before,
        "complete_min_severity": version.complete_min_severity,
    }


@templates_router.get(
    "/{key}/templates",
    response={200: list[TemplateOut], 401: ErrorOut, 404: ErrorOut},
    summary="The project's issue templates (current versions)",
)
def list_templates(request: HttpRequest, key: str) -> list[dict]:
    project = get_project_for_user(token_user(request), key)
    versions = [t.current for t in templates_of(project).prefetch_related("current__items")]
    return [_template_out(v) for v in versions if v is not None]


@templates_router.put(
    "/{key}/templates/{type}",
    response={200: TemplateOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Save a new version of a type's template (Managers)",
    description="Issues filed with an earlier version keep it.",
)
def put_template(request: HttpRequest, key: str, type: str, payload: TemplateIn) -> Status:
    project = get_project_for_user(token_user(request), key)
    if type not in IssueType.values:
        raise ApiError(404, "not_found", "No such issue type.")
    draft = TemplateDraft(
        description=payload.description,
        priority=payload.priority,
        severity=payload.severity,
        label_names=payload.labels,
        default_component_id=payload.default_component_id,
        shown_fields=payload.shown_fields,
        playbook_name=payload.playbook_name,
        items=[(i.text, i.required) for i in payload.items],
        complete_before=payload.complete_before,
        complete_min_severity=payload.complete_min_severity,
    )
    try:
        save_template(project, type, actor=token_user(request), draft=draft)
    except PlaybookError as e:
        code = "forbidden" if e.status_code == 403 else "invalid_field"
        raise ApiError(e.status_code, code, str(e), field=e.field) from None
    version = current_version(project, type)
    assert version is not None  # noqa: S101  # nosec B101 - just saved
    return Status(200, _template_out(version))


def _checklist_out(issue: Issue) -> dict:
    checklist, items = checklist_of(issue)
    if checklist is None:
        raise ApiError(
            404, "not_found", f"{issue.key} has no playbook (yet: it is copied on Assign)."
        )
    return {
        "name": checklist.name,
        "template_version": checklist.version.number,
        "progress": checklist.progress,
        "complete_before": checklist.complete_before,
        "complete_min_severity": checklist.complete_min_severity,
        "required_open": checklist.required_open,
        "items": [
            {
                "id": i.pk,
                "text": i.text,
                "required": i.required,
                "done": i.done_at is not None,
                "done_by": i.done_by_name,
                "done_at": i.done_at,
            }
            for i in items
        ],
    }


@checklist_router.get(
    "/{key}/checklist",
    response={200: ChecklistOut, 401: ErrorOut, 404: ErrorOut},
    summary="An issue's playbook checklist: who ticked what and when",
)
def read_checklist(request: HttpRequest, key: str) -> dict:
    return _checklist_out(get_issue_for_user(token_user(request), key))


@checklist_router.post(
    "/{key}/checklist/{item_id}",
    response={200: ChecklistOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Tick (done: true) or untick an item (the owner, Managers, Developers)",
)
def tick(request: HttpRequest, key: str, item_id: int, payload: TickIn) -> dict:
    issue = get_issue_for_user(token_user(request), key)
    try:
        tick_item(issue, item_id, actor=token_user(request), done=payload.done)
    except PlaybookError as e:
        code = {403: "forbidden", 404: "not_found"}.get(e.status_code, "invalid_field")
        raise ApiError(e.status_code, code, str(e)) from None
    return _checklist_out(issue)
