"""The use cases that file and edit issues: they cross apps (the SLA clock, auto-assignment),
so they live above `issues` (the record) and call down into it.

- `create_issue(project, *, reporter, title, ...)`: file an issue (the form, the API, intake,
  mail in and the demo all call it); starts its SLA clock and may auto-assign it.
- `update_issue(issue, *, actor, changes, ...)`: edit fields (never the status); recomputes the
  SLA when priority/severity move.
- `add_label(issue, *, actor, name)`: add a label (made in the project if new).
- `bulk_update_issues(issues, *, actor, ...)`: the same change to several issues, all or nothing.

Moved here whole from `issues/services.py` (issue 18); the record-level helpers they use
(`record_event`, the watch/attachment/length helpers) stay in `issues.services`.
"""

from collections.abc import Iterable
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from accounts.actors import Actor
from issues.limits import LABEL_MAX_CHARS
from issues.markdown import RENDERER_VERSION, render_markdown
from issues.models import EventKind, Issue, Label, Priority, Severity
from issues.services import (
    IssueError,
    ReasonRequiredError,
    StaleIssueError,
    _atomic_with_files,
    _check_lengths,
    _check_upload,
    _event,
    _new_issue_number,
    _number_at_batch_end,
    _store_attachment,
    _watch,
    new_issue_document,
    new_issue_watchers,
    record_event,
    record_events,
    refresh_search_vectors,
)
from projects.models import Component, Project, Team, Version
from projects.selectors import component_refusal, may_own, owner_refusal, version_refusal

from .assignment import auto_assign_issue
from .clock import recompute_sla, sla_change_needs_reason, start_sla_clock


def _check_shape(
    project: Project,
    changes: dict[str, Any],
    *,
    current: Component | None = None,
) -> None:
    """Component and versions must be the issue's project's own; an archived component is
    refused unless the issue already has it (`current`)."""
    component = changes.get("component")
    if component is not None:
        if component.project_id != project.pk:
            raise IssueError(component_refusal(project), field="component")
        if component.archived_at is not None and (current is None or current.pk != component.pk):
            raise IssueError(
                f"The component “{component.name}” is archived: choose another.",
                field="component",
            )
    for field in ("affected_version", "fix_version"):
        version = changes.get(field)
        if version is not None and version.project_id != project.pk:
            raise IssueError(version_refusal(project), field=field)


def create_issue(
    project: Project,
    *,
    reporter: Actor,
    title: str,
    description: str = "",
    type: str = "bug",
    priority: int = 2,
    severity: int = 2,
    owner: Actor | None = None,
    team: Team | None = None,
    environment: str = "",
    component: Component | None = None,
    affected_version: Version | None = None,
    fix_version: Version | None = None,
    labels: Iterable[Label] = (),
    attachments: Iterable[UploadedFile] = (),
    component_tag: str = "",
    source: str = "",
) -> Issue:
    """File an issue: allocate its key under a lock, save it, record the creation; the reporter
    and the owner watch it; attached files are stored in the same transaction. Without an
    owner, the project's assignment rules may assign it (`component_tag`: the monitoring tool's
    component tag the rules match on; workflows.assignment.auto_assign_issue). `source` says how
    it came when not through the form ("e-mail from a@example.com"), kept in the creation
    record and shown in the timeline."""
    if not title.strip():
        raise IssueError("A title is required.", field="title")
    _check_lengths(
        {
            "title": title,
            "description": description,
            "environment": environment,
        }
    )
    _check_shape(
        project,
        {"component": component, "affected_version": affected_version, "fix_version": fix_version},
    )
    if owner is not None and not may_own(owner, project):
        raise IssueError(owner_refusal(project), field="owner")
    labels = list(labels)
    if any(label.project_id != project.pk for label in labels):
        raise IssueError("Labels must belong to the issue's project.", field="labels")
    uploads = list(attachments)
    for upload in uploads:
        _check_upload(upload)
    # No savepoint of its own: a failure here rolls the caller's block back with it (every
    # caller lets it propagate; the mail batch gives each message its own savepoint).
    with _atomic_with_files(savepoint=False) as stored:
        # In a batch (mail in) a placeholder: the batch allocates the keys as it ends.
        number, placeholder = _new_issue_number(project)
        issue = Issue.objects.create(
            project=project,
            number=number,
            title=title,
            description=description,
            description_html=render_markdown(description),
            description_html_version=RENDERER_VERSION,
            type=type,
            priority=priority,
            severity=severity,
            reporter=reporter,
            owner=owner,
            team=team,
            environment=environment,
            component=component,
            affected_version=affected_version,
            fix_version=fix_version,
            search_vector=None
            if placeholder
            else new_issue_document(f"{project.key} {number}", title, description),
        )
        if placeholder:
            _number_at_batch_end(issue)
        # The document was computed by the INSERT: not loaded (a later full save leaves it).
        issue.__dict__.pop("search_vector", None)
        created = _event(
            issue,
            EventKind.CREATED,
            actor=reporter,
            new=issue.title,
            data={"source": source} if source else None,
        )
        if labels:
            issue.labels.add(*labels)
        record_events([created, *new_issue_watchers(issue, [reporter, owner], actor=reporter)])
        for upload in uploads:
            _store_attachment(issue, upload, actor=reporter, comment=None, stored=stored)
        start_sla_clock(issue, actor=reporter)
        if owner is None:
            auto_assign_issue(issue, component_tag=component_tag)
    return issue


# Fields `update_issue` may change, and how each is shown in the audit trail.
EDITABLE_FIELDS = (
    "title",
    "description",
    "type",
    "priority",
    "severity",
    "owner",
    "team",
    "labels",
    "environment",
    "component",
    "affected_version",
    "fix_version",
)


def _display(issue: Issue, field: str, value: Any) -> str:
    if value is None:
        return ""
    if field == "owner":
        # The name people see, kept as it is now (the id is in the event's data).
        return str(value)
    if field in ("team", "component", "affected_version", "fix_version"):
        return value.name
    if field == "labels":
        return ", ".join(sorted(label.name for label in value))
    if field == "priority":
        return str(Priority(value).label)
    if field == "severity":
        return str(Severity(value).label)
    if field == "type":
        return str(dict(Issue._meta.get_field("type").choices or [])[value])
    return str(value)


def update_issue(
    issue: Issue,
    *,
    actor: Actor,
    changes: dict[str, Any],
    expected_version: int | None = None,
    reason: str = "",
) -> list[str]:
    """Edit fields of an issue (never its status). Steps: validate, lock the row and refuse a
    stale version, save the changed fields, record one CHANGED event per field, auto-watch a new
    owner, recompute the SLA when priority/severity moved. Returns the changed field names."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise IssueError(f"These fields cannot be edited here: {', '.join(sorted(unknown))}.")
    if "title" in changes and not str(changes["title"]).strip():
        raise IssueError("A title is required.", field="title")
    _check_lengths(changes)
    _check_shape(issue.project, changes, current=issue.component)
    owner = changes.get("owner")
    if owner is not None and not may_own(owner, issue.project):
        raise IssueError(owner_refusal(issue.project), field="owner")
    if "labels" in changes and any(
        label.project_id != issue.project_id for label in changes["labels"]
    ):
        raise IssueError("Labels must belong to the issue's project.", field="labels")

    with transaction.atomic():
        locked = (
            Issue.objects.select_for_update(of=("self",))
            .select_related(
                "project", "owner", "team", "component", "affected_version", "fix_version"
            )
            .get(pk=issue.pk)
        )
        if expected_version is not None and locked.version != expected_version:
            raise StaleIssueError(
                "Someone else changed this issue while you were editing it. "
                "Reload the page to see their changes, then apply yours again."
            )
        changed: list[tuple[str, Any, Any]] = []
        for field, new in changes.items():
            if field == "labels":
                old = set(locked.labels.all())
                new = set(new)
            else:
                old = getattr(locked, field)
            if old != new:
                changed.append((field, old, new))
        if not changed:
            return []

        sla_fields = {f: new for f, _old, new in changed if f in ("priority", "severity")}
        needs_reason = bool(sla_fields) and sla_change_needs_reason(
            locked,
            priority=sla_fields.get("priority", locked.priority),
            severity=sla_fields.get("severity", locked.severity),
        )
        if needs_reason and not reason.strip():
            raise ReasonRequiredError(
                "This change moves the SLA deadline: say why.", field="reason"
            )

        plain = [f for f, _o, _n in changed if f != "labels"]
        for field, _old, new in changed:
            if field != "labels":
                setattr(locked, field, new)
        locked.version += 1
        rendered = []
        if "description" in plain:
            locked.description_html = render_markdown(locked.description)
            locked.description_html_version = RENDERER_VERSION
            rendered = ["description_html", "description_html_version"]
        locked.save(update_fields=[*plain, *rendered, "version", "updated_at"])
        for field, old, new in changed:
            if field == "labels":
                locked.labels.set(new)
            data: dict[str, Any] = {}
            if field == "owner":
                data = {"owner_id": new.pk if new else None}
            elif field in ("component", "affected_version", "fix_version"):
                data = {f"{field}_id": new.pk if new else None}
            elif field in ("priority", "severity") and needs_reason:
                data = {"reason": reason}
            record_event(
                locked,
                EventKind.CHANGED,
                actor=actor,
                field=field,
                old=_display(locked, field, old),
                new=_display(locked, field, new),
                data=data,
            )
        if "owner" in plain and locked.owner is not None:
            _watch(locked, locked.owner, actor=actor, automatic=True)
        if {"title", "description"} & set(plain):
            refresh_search_vectors([locked.pk])
        if sla_fields:
            recompute_sla(locked, actor=actor, reason=reason)
    # The caller's object now reflects the saved row.
    for field in [*plain, *rendered]:
        setattr(issue, field, getattr(locked, field))
    issue.version = locked.version
    issue.updated_at = locked.updated_at
    return [f for f, _o, _n in changed]


def bulk_update_issues(
    issues: Iterable[Issue],
    *,
    actor: Actor,
    owner: Actor | None = None,
    unassign: bool = False,
    priority: int | None = None,
    severity: int | None = None,
    label: str = "",
    component: str = "",
    reason: str = "",
) -> int:
    """Apply the same change to several issues through the single-edit services, all or nothing.
    Raises IssueError naming the first issue that refused. `component` is a component's name,
    found in each issue's own project (issues of several projects may be selected), or
    `none` to clear it."""
    changes: dict[str, Any] = {}
    if unassign:
        changes["owner"] = None
    elif owner is not None:
        changes["owner"] = owner
    if priority is not None:
        changes["priority"] = priority
    if severity is not None:
        changes["severity"] = severity
    component = component.strip()
    if not changes and not label and not component:
        raise IssueError("Choose what to change.")
    count = 0
    with transaction.atomic():
        for issue in issues:
            try:
                own = dict(changes)
                if component:
                    own["component"] = _component_named(issue.project, component)
                if own:
                    update_issue(issue, actor=actor, changes=own, reason=reason)
                if label:
                    add_label(issue, actor=actor, name=label)
            except IssueError as error:
                raise type(error)(f"{issue.key}: {error}", field=error.field) from error
            count += 1
    return count


NO_COMPONENT = "none"


def _component_named(project: Project, name: str) -> Component | None:
    if name.lower() == NO_COMPONENT:
        return None
    found = Component.objects.active().filter(project=project, name__iexact=name).first()
    if found is None:
        raise IssueError(f"{project.key} has no component called “{name}”.", field="component")
    return found


def add_label(issue: Issue, *, actor: Actor, name: str) -> Label:
    """Add a label (created in the issue's project if new) through `update_issue`."""
    name = name.strip()
    if not name:
        raise IssueError("Give the label a name.", field="label")
    if len(name) > LABEL_MAX_CHARS:
        raise IssueError(f"Label names are at most {LABEL_MAX_CHARS} characters.", field="label")
    label, _ = Label.objects.get_or_create(project=issue.project, name=name)
    update_issue(issue, actor=actor, changes={"labels": {*issue.labels.all(), label}})
    return label
