"""Writes to issues. Every change goes through a function here and leaves an IssueEvent."""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from projects.models import Component, Project, Version
from projects.selectors import component_refusal, may_own, owner_refusal, version_refusal

from .limits import (
    ENVIRONMENT_MAX_CHARS,
    LABEL_MAX_CHARS,
    TEXT_MAX_CHARS,
    TITLE_MAX_CHARS,
    too_long_message,
)
from .markdown import RENDERER_VERSION, mentioned_usernames, render_markdown
from .models import (
    Attachment,
    Comment,
    EventKind,
    Issue,
    IssueEvent,
    IssueLink,
    Label,
    LinkKind,
    Priority,
    SavedFilter,
    Severity,
)
from .selectors import may_change_issues


class IssueError(Exception):
    """A refused change; `str(error)` is the message shown to the user."""

    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class StaleIssueError(IssueError):
    """Someone else saved the issue after the form was loaded."""


class ReasonRequiredError(IssueError):
    pass


class IssueAccessError(IssueError):
    """The actor may not change one of the issues involved (answered 403)."""


# Free-text fields of an issue and their limits (issues.limits), checked by every write.
_TEXT_LIMITS = {
    "title": ("The title", TITLE_MAX_CHARS),
    "description": ("The description", TEXT_MAX_CHARS),
    "environment": ("The environment", ENVIRONMENT_MAX_CHARS),
}


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


def _check_lengths(fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        if name in _TEXT_LIMITS and isinstance(value, str):
            label, limit = _TEXT_LIMITS[name]
            if len(value) > limit:
                raise IssueError(too_long_message(label, limit, value), field=name)


def start_sla_clock(issue: Issue, *, actor) -> None:
    # Imported late: workflows depends on issues, not the other way round.
    from workflows.services import start_sla_clock as _start

    _start(issue, actor=actor)


def _next_issue_number(project: Project) -> int:
    # The row lock serialises concurrent creators: no gaps, no duplicates.
    locked = Project.objects.select_for_update().get(pk=project.pk)
    locked.last_issue_number += 1
    locked.save(update_fields=["last_issue_number"])
    return locked.last_issue_number


def record_event(
    issue: Issue,
    kind: str,
    *,
    actor=None,
    field: str = "",
    old: object = "",
    new: object = "",
    data: dict | None = None,
) -> IssueEvent:
    return IssueEvent.objects.create(
        issue=issue,
        actor=actor,
        kind=kind,
        field=field,
        old_value="" if old is None else str(old),
        new_value="" if new is None else str(new),
        data=data or {},
    )


# The full-text document of an issue: key and title weigh most, then description, then comments.
# One definition, used by the services and by seed_bench (which fills it in while inserting).
SEARCH_DOCUMENT_SQL = (
    "setweight(to_tsvector('simple', {key}), 'A')"
    " || setweight(to_tsvector('english', {title}), 'A')"
    " || setweight(to_tsvector('english', {description}), 'B')"
    " || setweight(to_tsvector('english', {comments}), 'C')"
)
# Constant SQL (no user input).
_SEARCH_VECTOR_SQL = (
    "UPDATE issues_issue AS i SET search_vector = "  # noqa: S608  # nosec B608
    + SEARCH_DOCUMENT_SQL.format(
        key="p.key || ' ' || i.number::text",
        title="i.title",
        description="i.description",
        comments="coalesce((SELECT string_agg(c.body, ' ') FROM issues_comment AS c"
        " WHERE c.issue_id = i.id), '')",
    )
    + " FROM projects_project AS p WHERE p.id = i.project_id"
)


def refresh_search_vectors(issue_ids: Iterable[int] | None = None) -> None:
    """Recompute the full-text document of these issues (all when None). PostgreSQL only."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        if issue_ids is None:
            cursor.execute(_SEARCH_VECTOR_SQL)
        else:
            cursor.execute(_SEARCH_VECTOR_SQL + " AND i.id = ANY(%s)", [list(issue_ids)])


def _watch(issue: Issue, user, *, actor, automatic: bool) -> bool:
    if user is None or issue.watchers.filter(pk=user.pk).exists():
        return False
    issue.watchers.add(user)
    record_event(
        issue,
        EventKind.WATCHED,
        actor=actor,
        new=str(user),
        data={"user_id": user.pk, "automatic": automatic},
    )
    return True


def create_issue(
    project: Project,
    *,
    reporter,
    title: str,
    description: str = "",
    type: str = "bug",
    priority: int = 2,
    severity: int = 2,
    owner=None,
    team=None,
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
    component tag the rules match on; intake.assignment.auto_assign_issue). `source` says how
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
    with _atomic_with_files() as stored:
        issue = Issue.objects.create(
            project=project,
            number=_next_issue_number(project),
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
        )
        record_event(
            issue,
            EventKind.CREATED,
            actor=reporter,
            new=issue.title,
            data={"source": source} if source else None,
        )
        if labels:
            issue.labels.add(*labels)
        _watch(issue, reporter, actor=reporter, automatic=True)
        _watch(issue, owner, actor=reporter, automatic=True)
        for upload in uploads:
            _store_attachment(issue, upload, actor=reporter, comment=None, stored=stored)
        refresh_search_vectors([issue.pk])
        start_sla_clock(issue, actor=reporter)
        if owner is None:
            from intake.assignment import auto_assign_issue

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
    actor,
    changes: dict[str, Any],
    expected_version: int | None = None,
    reason: str = "",
) -> list[str]:
    """Edit fields of an issue (never its status). Steps: validate, lock the row and refuse a
    stale version, save the changed fields, record one CHANGED event per field, auto-watch a new
    owner, recompute the SLA when priority/severity moved. Returns the changed field names."""
    from workflows.services import recompute_sla, sla_change_needs_reason

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


def add_label(issue: Issue, *, actor, name: str) -> Label:
    """Add a label (created in the issue's project if new) through `update_issue`."""
    name = name.strip()
    if not name:
        raise IssueError("Give the label a name.", field="label")
    if len(name) > LABEL_MAX_CHARS:
        raise IssueError(f"Label names are at most {LABEL_MAX_CHARS} characters.", field="label")
    label, _ = Label.objects.get_or_create(project=issue.project, name=name)
    update_issue(issue, actor=actor, changes={"labels": {*issue.labels.all(), label}})
    return label


def _touch(issue: Issue) -> None:
    # Activity moves the issue up the list without bumping the edit version.
    Issue.objects.filter(pk=issue.pk).update(updated_at=timezone.now())


@contextmanager
def _atomic_with_files() -> Iterator[list[Attachment]]:
    """A transaction whose stored files are deleted again when it fails (storage is not
    transactional). Yields the list `_store_attachment` appends to."""
    stored: list[Attachment] = []
    try:
        with transaction.atomic():
            yield stored
    except BaseException:
        for attachment in stored:
            attachment.file.delete(save=False)
        raise


def _check_upload(upload: UploadedFile) -> None:
    if upload.size is not None and upload.size > settings.ATTACHMENT_MAX_BYTES:
        limit_mb = settings.ATTACHMENT_MAX_BYTES / (1024 * 1024)
        raise IssueError(f"Files may be at most {limit_mb:.0f} MB.", field="file")
    if not upload.name:
        raise IssueError("The file needs a name.", field="file")


def _store_attachment(
    issue: Issue,
    upload: UploadedFile,
    *,
    actor,
    comment: Comment | None,
    stored: list[Attachment],
) -> Attachment:
    filename = (upload.name or "file").replace("\\", "/").rsplit("/", 1)[-1][:200]
    attachment = Attachment(
        issue=issue, comment=comment, uploaded_by=actor, filename=filename, size=upload.size or 0
    )
    attachment.file.save(upload.name or "file", upload, save=False)
    stored.append(attachment)
    attachment.save()
    record_event(
        issue,
        EventKind.ATTACHED,
        actor=actor,
        new=filename,
        data={"attachment_id": attachment.pk, "comment_id": comment.pk if comment else None},
    )
    return attachment


def add_attachment(issue: Issue, *, actor, upload: UploadedFile) -> Attachment:
    """Attach a file to the issue (size checked, stored through Django's storage API)."""
    _check_upload(upload)
    with _atomic_with_files() as stored:
        attachment = _store_attachment(issue, upload, actor=actor, comment=None, stored=stored)
        _touch(issue)
    return attachment


def add_comment(
    issue: Issue, *, author, body: str, attachments: Iterable[UploadedFile] = ()
) -> Comment:
    """Comment on an issue. `@username` of project members become links and are recorded in the
    COMMENTED event (data: comment_id, mentions) for the notifications outbox."""
    body = body.strip()
    uploads = list(attachments)
    if not body and not uploads:
        raise IssueError("Write a comment or attach a file.", field="body")
    if len(body) > TEXT_MAX_CHARS:
        raise IssueError(too_long_message("A comment", TEXT_MAX_CHARS, body), field="body")
    for upload in uploads:
        _check_upload(upload)
    names = mentioned_usernames(body)
    mentioned = list(
        issue.project.memberships.filter(
            user__username__in=names, user__is_active=True
        ).values_list("user__username", "user_id")
    )
    with _atomic_with_files() as stored:
        comment = Comment.objects.create(
            issue=issue,
            author=author,
            body=body,
            body_html=render_markdown(body, mentions=mentioned),
            body_html_version=RENDERER_VERSION,
        )
        mention_ids = [user_id for _name, user_id in mentioned]
        if mention_ids:
            comment.mentions.add(*mention_ids)
        record_event(
            issue,
            EventKind.COMMENTED,
            actor=author,
            data={"comment_id": comment.pk, "mentions": mention_ids},
        )
        for upload in uploads:
            _store_attachment(issue, upload, actor=author, comment=comment, stored=stored)
        _touch(issue)
        refresh_search_vectors([issue.pk])
    return comment


def watch_automatically(issue: Issue, user, *, actor) -> bool:
    """Make `user` a watcher because of what happened (they own it, they sent it to retest);
    recorded as an automatic WATCHED event. False when already watching."""
    return _watch(issue, user, actor=actor, automatic=True)


def watch_issue(issue: Issue, *, user) -> bool:
    """Start watching; False when already watching."""
    with transaction.atomic():
        return _watch(issue, user, actor=user, automatic=False)


def unwatch_issue(issue: Issue, *, user) -> bool:
    """Stop watching; False when not watching."""
    with transaction.atomic():
        if not issue.watchers.filter(pk=user.pk).exists():
            return False
        issue.watchers.remove(user)
        record_event(
            issue, EventKind.UNWATCHED, actor=user, old=user.username, data={"user_id": user.pk}
        )
    return True


LINK_NEEDS_BOTH_ENDS = (
    "Only someone who can change both issues can change this link: the other issue is in a "
    "project you cannot see."
)


def link_issues(issue: Issue, *, target: Issue, kind: str, actor) -> IssueLink:
    """Link two issues; recorded on both. Refused (IssueAccessError, nothing written) unless
    `actor` may change both issues; a target the actor may not see is reported as not found,
    never named."""
    if kind not in LinkKind.values:
        raise IssueError("Choose a kind of link.", field="kind")
    if target.pk == issue.pk:
        raise IssueError("An issue cannot be linked to itself.", field="target")
    if not may_change_issues(actor, issue, target):
        raise IssueAccessError("No issue with this key that you can see.", field="target")
    with transaction.atomic():
        same = Q(source=issue, target=target, kind=kind)
        if kind == LinkKind.RELATES:
            same |= Q(source=target, target=issue, kind=kind)
        if IssueLink.objects.filter(same).exists():
            raise IssueError(f"{issue.key} already {LinkKind(kind).label} {target.key}.")
        link = IssueLink.objects.create(source=issue, target=target, kind=kind, created_by=actor)
        data = {"link_id": link.pk, "kind": kind, "source": issue.key, "target": target.key}
        record_event(issue, EventKind.LINKED, actor=actor, field=kind, new=target.key, data=data)
        record_event(target, EventKind.LINKED, actor=actor, field=kind, new=issue.key, data=data)
    return link


def unlink_issues(link: IssueLink, *, actor) -> None:
    """Remove a link; recorded on both issues. Refused (IssueAccessError, nothing written,
    no record on either issue) unless `actor` may change both ends."""
    source, target = link.source, link.target
    if not may_change_issues(actor, source, target):
        raise IssueAccessError(LINK_NEEDS_BOTH_ENDS)
    with transaction.atomic():
        data = {"link_id": link.pk, "kind": link.kind, "source": source.key, "target": target.key}
        deleted, _ = IssueLink.objects.filter(pk=link.pk).delete()
        if not deleted:
            raise IssueError("This link was already removed.")
        record_event(
            source, EventKind.UNLINKED, actor=actor, field=link.kind, old=target.key, data=data
        )
        record_event(
            target, EventKind.UNLINKED, actor=actor, field=link.kind, old=source.key, data=data
        )


def bulk_update_issues(
    issues: Iterable[Issue],
    *,
    actor,
    owner=None,
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


def save_filter(user, *, name: str, query: str) -> SavedFilter:
    """Save (or overwrite) a named list view for this user."""
    name = name.strip()
    if not name:
        raise IssueError("Give the filter a name.", field="name")
    query = query.lstrip("?")[:1000]
    saved, _ = SavedFilter.objects.update_or_create(
        user=user, name=name[:80], defaults={"query": query}
    )
    return saved


def delete_saved_filter(saved: SavedFilter, *, user) -> None:
    if saved.user_id != user.pk:
        raise IssueError("Not your filter.")
    saved.delete()


def rerender_markdown(*, batch_size: int = 500) -> tuple[int, int]:
    """Store the current renderer's HTML for every description and comment rendered by an
    older version (after a RENDERER_VERSION bump); returns (issues, comments) re-rendered.
    Idempotent: rows already at the current version are skipped."""
    issues = comments = 0
    while True:
        batch = list(
            Issue.objects.exclude(description_html_version=RENDERER_VERSION)
            .order_by("pk")
            .only("pk", "description")[:batch_size]
        )
        if not batch:
            break
        for issue in batch:
            issue.description_html = render_markdown(issue.description)
            issue.description_html_version = RENDERER_VERSION
        # A bulk write of derived columns only: no audit event, the text did not change.
        Issue.objects.bulk_update(batch, ["description_html", "description_html_version"])
        issues += len(batch)
    while True:
        rows = list(
            Comment.objects.exclude(body_html_version=RENDERER_VERSION)
            .order_by("pk")
            .only("pk", "body")
            .prefetch_related("mentions")[:batch_size]
        )
        if not rows:
            break
        for comment in rows:
            known = [(user.username, user.pk) for user in comment.mentions.all()]
            comment.body_html = render_markdown(comment.body, mentions=known)
            comment.body_html_version = RENDERER_VERSION
        Comment.objects.bulk_update(rows, ["body_html", "body_html_version"])
        comments += len(rows)
    return issues, comments
