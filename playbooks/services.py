"""Writes: a new template version, the version an issue was filed with, the playbook copied
onto an assigned issue (called by `workflows.services`), ticking an item (audited)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from customfields.models import CustomField
from issues.models import EventKind, Issue, IssueType, Priority, Severity, Status
from issues.services import record_event
from projects.models import Project, Role
from projects.selectors import is_manager, role_in_project

from .models import (
    ChecklistItem,
    FiledWith,
    IssueChecklist,
    IssueTemplate,
    PlaybookItem,
    TemplateVersion,
)
from .selectors import counts_for_completion

ITEM_MAX_CHARS = 200
MAX_ITEMS = 50
DESCRIPTION_MAX_CHARS = 20_000
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
# Who may tick: the issue's owner, and the project's Managers and Developers.
TICK_ROLES = (Role.MANAGER, Role.DEVELOPER)


class PlaybookError(Exception):
    def __init__(self, message: str, *, field: str = "", status_code: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.status_code = status_code


@dataclass
class TemplateDraft:
    description: str = ""
    priority: int | None = None
    severity: int | None = None
    label_names: list[str] = field(default_factory=list)
    default_component_id: int | None = None
    shown_fields: list[str] = field(default_factory=list)
    playbook_name: str = ""
    items: list[tuple[str, bool]] = field(default_factory=list)
    complete_before: str = ""
    complete_min_severity: int | None = None


def _check_draft(project: Project, draft: TemplateDraft) -> None:
    if len(draft.description) > DESCRIPTION_MAX_CHARS:
        raise PlaybookError(
            f"Keep the description under {DESCRIPTION_MAX_CHARS:,} characters.",
            field="description",
        )
    if draft.priority is not None and draft.priority not in Priority.values:
        raise PlaybookError("Choose a priority.", field="priority")
    if draft.severity is not None and draft.severity not in Severity.values:
        raise PlaybookError("Choose a severity.", field="severity")
    known = {n.lower() for n in project.labels.values_list("name", flat=True)}
    unknown = [n for n in draft.label_names if n.lower() not in known]
    if unknown:
        raise PlaybookError(
            f"No label “{unknown[0]}” in {project.key}: choose the project's labels.",
            field="labels",
        )
    bad = [s for s in draft.shown_fields if not SLUG.match(s)]
    if bad:
        raise PlaybookError(f"“{bad[0]}” is not a field slug.", field="shown_fields")
    slugs = set(
        CustomField.objects.filter(project=project, archived_at__isnull=True).values_list(
            "slug", flat=True
        )
    )
    missing = [s for s in draft.shown_fields if s not in slugs]
    if missing:
        raise PlaybookError(
            f"No custom field “{missing[0]}” in {project.key}: use the slugs its fields page"
            " lists.",
            field="shown_fields",
        )
    if (
        draft.default_component_id is not None
        and not project.components.active().filter(pk=draft.default_component_id).exists()
    ):
        raise PlaybookError(
            f"Choose one of {project.key}'s components.", field="default_component_id"
        )
    if len(draft.items) > MAX_ITEMS:
        raise PlaybookError(f"At most {MAX_ITEMS} playbook items.", field="items")
    for text, _required in draft.items:
        if not text.strip():
            raise PlaybookError("A playbook item needs text.", field="items")
        if len(text) > ITEM_MAX_CHARS:
            raise PlaybookError(
                f"Keep each playbook item under {ITEM_MAX_CHARS} characters.", field="items"
            )
    if draft.complete_before and draft.complete_before not in (
        Status.RETEST,
        Status.FIXED,
        Status.CLOSED,
    ):
        raise PlaybookError("Choose Retest, Fixed or Closed.", field="complete_before")
    if draft.complete_before and not draft.items:
        raise PlaybookError("Add playbook items to require them.", field="complete_before")
    if draft.complete_min_severity is not None and draft.complete_min_severity not in (
        Severity.values
    ):
        raise PlaybookError("Choose a severity.", field="complete_min_severity")


def save_template(project: Project, type: str, *, actor, draft: TemplateDraft) -> TemplateVersion:
    """A new version of the project's template for `type` (Managers only); issues filed with
    an older version keep it. Steps: guard -> lock the template row -> next number -> the
    version and its playbook items -> make it current."""
    if not is_manager(actor, project):
        raise PlaybookError(f"Only Managers of {project.key} edit its templates.", status_code=403)
    if type not in IssueType.values:
        raise PlaybookError("Choose an issue type.", field="type")
    _check_draft(project, draft)
    with transaction.atomic():
        template, _ = IssueTemplate.objects.get_or_create(project=project, type=type)
        template = IssueTemplate.objects.select_for_update().get(pk=template.pk)
        last = template.versions.order_by("-number").values_list("number", flat=True).first()
        version = TemplateVersion.objects.create(
            template=template,
            number=(last or 0) + 1,
            description=draft.description.replace("\r\n", "\n"),
            priority=draft.priority,
            severity=draft.severity,
            label_names=list(draft.label_names),
            default_component_id=draft.default_component_id,
            shown_fields=list(draft.shown_fields),
            playbook_name=draft.playbook_name.strip()[:80],
            complete_before=draft.complete_before,
            complete_min_severity=draft.complete_min_severity if draft.complete_before else None,
            created_by=actor,
        )
        PlaybookItem.objects.bulk_create(
            PlaybookItem(version=version, position=i, text=text.strip(), required=required)
            for i, (text, required) in enumerate(draft.items)
        )
        template.current = version
        template.save(update_fields=["current"])
    return version


def record_filed_with(issue: Issue, version: TemplateVersion) -> None:
    """Remember the version the issue was filed with (its playbook is copied on Assign)."""
    if version.template.project_id != issue.project_id:
        raise PlaybookError("That template belongs to another project.", field="template")
    FiledWith.objects.update_or_create(issue=issue, defaults={"version": version})


def _version_for(issue: Issue) -> TemplateVersion | None:
    filed = FiledWith.objects.filter(issue=issue).select_related("version").first()
    if filed is not None:
        return filed.version
    # Filed without the form (API, intake, mail): the current template of project and type.
    template = IssueTemplate.objects.filter(project_id=issue.project_id, type=issue.type).first()
    return template.current if template is not None else None


def copy_playbook(issue: Issue, *, actor) -> IssueChecklist | None:
    """Copy the playbook of the issue's template version onto it (once: an issue reassigned
    later keeps its checklist and its ticks). Called inside the Assign transition."""
    if IssueChecklist.objects.filter(issue=issue).exists():
        return None
    version = _version_for(issue)
    if version is None:
        return None
    items = list(version.items.all())
    if not items:
        return None
    required = [i for i in items if i.required] or items
    checklist = IssueChecklist.objects.create(
        issue=issue,
        version=version,
        name=version.playbook_name,
        complete_before=version.complete_before,
        complete_min_severity=version.complete_min_severity,
        total_count=len(items),
        done_count=0,
        required_open=len(required),
    )
    ChecklistItem.objects.bulk_create(
        ChecklistItem(checklist=checklist, position=i.position, text=i.text, required=i.required)
        for i in items
    )
    name = version.playbook_name or "Playbook"
    record_event(
        issue,
        EventKind.CHANGED,
        actor=actor,
        field="playbook",
        new=f"{name} (v{version.number}, {len(items)} items)",
        data={"action": "attached", "version": version.number, "items": len(items)},
    )
    return checklist


def may_tick(user, issue: Issue) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser or issue.owner_id == user.pk:
        return True
    return role_in_project(user, issue.project) in TICK_ROLES


def tick_item(issue: Issue, item_id: int, *, actor, done: bool) -> ChecklistItem:
    """Tick or untick one item of the issue's checklist; recorded in the timeline with the
    item's text. The caller found `issue` through the access selector."""
    if not may_tick(actor, issue):
        raise PlaybookError(
            "Only the owner, Managers and Developers of the project tick the playbook.",
            status_code=403,
        )
    with transaction.atomic():
        checklist = IssueChecklist.objects.select_for_update().filter(issue=issue).first()
        item = (
            ChecklistItem.objects.filter(pk=item_id, checklist=checklist).first()
            if checklist is not None
            else None
        )
        if checklist is None or item is None:
            raise PlaybookError("No such item on this issue's playbook.", status_code=404)
        if (item.done_at is not None) == done:
            return item
        item.done_at = timezone.now() if done else None
        item.done_by = actor if done else None
        item.done_by_name = str(actor) if done else ""
        item.save(update_fields=["done_at", "done_by", "done_by_name"])
        items = list(checklist.items.all())
        checklist.done_count = sum(1 for i in items if i.done_at is not None)
        checklist.required_open = sum(1 for i in counts_for_completion(items) if i.done_at is None)
        checklist.save(update_fields=["done_count", "required_open"])
        record_event(
            issue,
            EventKind.CHANGED,
            actor=actor,
            field="playbook",
            old="" if done else item.text,
            new=item.text if done else "",
            data={
                "action": "ticked" if done else "unticked",
                "item_id": item.pk,
                "progress": checklist.progress,
            },
        )
    return item
