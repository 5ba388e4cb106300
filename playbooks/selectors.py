"""Reads: a project's templates (access through the projects selector), the version a form
applies, an issue's checklist, and what the transition guard asks."""

from __future__ import annotations

from django.db.models import F, QuerySet

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
    return TemplateVersion.objects.filter(pk=version_id, template__project=project).first()


def checklist_of(issue: Issue) -> tuple[IssueChecklist | None, list[ChecklistItem]]:
    checklist = IssueChecklist.objects.filter(issue=issue).first()
    if checklist is None:
        return None, []
    return checklist, list(checklist.items.all())


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
