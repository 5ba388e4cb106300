"""Reads: a project's templates (access through the projects selector), the version a form
applies, an issue's checklist, and what the transition guard asks."""

from __future__ import annotations

from typing import Any, Protocol

from django.db.models import F, QuerySet

from accounts.compiled import CompiledRead
from issues.models import Issue, Severity, Status
from projects.models import Project

from .models import ChecklistItem, IssueChecklist, IssueTemplate, TemplateVersion


def templates_of(project: Project) -> QuerySet[IssueTemplate]:
    return IssueTemplate.objects.filter(project=project).select_related("current")


def current_version(project: Project | None, type: str) -> TemplateVersion | None:
    if project is None or not type:
        return None
    return (
        TemplateVersion.objects.filter(
            template__project=project, template__type=type, template__current_id=F("pk")
        )
        .prefetch_related("items")
        .first()
    )


def version_of_project(version_id: int | None, project: Project | None) -> TemplateVersion | None:
    """A version by id, only when it belongs to `project` (a form's hidden field is input)."""
    if version_id is None or project is None:
        return None
    return (
        TemplateVersion.objects.filter(pk=version_id, template__project=project)
        .select_related("template")
        .first()
    )


def version_for_form(
    project: Project | None, type: str, version_id: int | None
) -> TemplateVersion | None:
    """The version a submitted form was filed with: the one it applied (its hidden field)
    when that is the project's template for the chosen type, else the current one (a no-JS
    user who changed the type without applying still files under that type's playbook)."""
    applied = version_of_project(version_id, project)
    if applied is not None and applied.template.type == type:
        return applied
    return current_version(project, type)


class _Field(Protocol):
    slug: str
    required: bool
    required_from: str


def fields_shown_by[FieldT: _Field](
    version: TemplateVersion | None, fields: list[FieldT]
) -> list[FieldT]:
    """The custom fields the new-issue form shows under a template: those it names, in the
    project's order, plus every field required at filing (hiding one would make the form
    impossible to send). A template that names none shows them all."""
    if version is None or not version.shown_fields:
        return fields
    named = set(version.shown_fields)
    return [f for f in fields if f.slug in named or (f.required and not f.required_from)]


_checklist_items: CompiledRead[Any] = CompiledRead(
    lambda issue_id: (
        ChecklistItem.objects.filter(checklist__issue_id=issue_id)
        .select_related("checklist")
        .order_by("position")
    )
)


def checklist_of(issue: Issue) -> tuple[IssueChecklist | None, list[ChecklistItem]]:
    """The issue's checklist and its items in one query (none before it is assigned)."""
    items = _checklist_items.rows(issue.pk)
    return (items[0].checklist if items else None), items


def counts_for_completion(items: list[ChecklistItem]) -> list[ChecklistItem]:
    """The items "complete" is about: the required ones, or all when none is required."""
    required = [i for i in items if i.required]
    return required or items


def playbook_refusal(issue: Issue, to: str) -> str | None:
    """Why `issue` may not enter status `to` yet (its playbook says complete before), or None."""
    checklist = IssueChecklist.objects.filter(issue=issue).first()
    if checklist is None or not checklist.complete_before or checklist.required_open == 0:
        return None
    if to != checklist.complete_before:
        return None
    minimum = checklist.complete_min_severity
    if minimum is not None and issue.severity < minimum:
        return None
    scope = f" for {Severity(minimum).label} issues" if minimum else ""
    return (
        f"Complete the playbook first: {checklist.required_open} item"
        f"{'s' if checklist.required_open != 1 else ''} still open "
        f"({checklist.progress} done); it must be complete before "
        f"{Status(to).label}{scope}."
    )


def with_checklist_progress(qs: QuerySet[Issue]) -> QuerySet[Issue]:
    """The list's and the board's "3/5": one LEFT JOIN, no query per row."""
    return qs.annotate(
        checklist_done=F("checklist__done_count"), checklist_total=F("checklist__total_count")
    )


# --- the new-issue form: switching the template ---------------------------------------------
FORM_DEFAULTS = {"priority": 2, "severity": 2}  # issues.forms.IssueFieldsForm's initials


def _text(value: object) -> str:
    return str(value or "").replace("\r\n", "\n").strip()


def template_values(
    data: dict[str, Any],
    *,
    new: TemplateVersion | None,
    previous: TemplateVersion | None,
    labels: dict[str, int],
) -> dict[str, Any]:
    """The form's values with template `new` applied instead of `previous` (the version the
    form last applied, from its hidden field). A value the user changed is kept: the
    description is replaced only while it is empty or still exactly `previous`'s text (line
    endings and outer blanks aside); priority, severity and labels only while they still hold
    `previous`'s defaults (the form's own defaults when there was none). The title is never
    touched. `labels`: the project's label ids by lower-cased name."""
    out = dict(data)
    if _text(data.get("description")) == _text(previous.description if previous else ""):
        out["description"] = new.description if new else ""
    for name in ("priority", "severity"):
        before = getattr(previous, name, None) or FORM_DEFAULTS[name]
        if str(data.get(name) or before) == str(before):
            out[name] = getattr(new, name, None) or FORM_DEFAULTS[name]
    before_labels = {labels.get(n.lower()) for n in (previous.label_names if previous else [])}
    chosen = {int(v) for v in data.get("labels", []) if str(v).isdigit()}
    if chosen == before_labels - {None}:
        wanted = [labels.get(n.lower()) for n in (new.label_names if new else [])]
        out["labels"] = [pk for pk in wanted if pk is not None]
    if new is not None and new.default_component_id is not None:
        if not out.get("component"):
            out["component"] = new.default_component_id
    out["template_version"] = new.pk if new else ""
    return out
