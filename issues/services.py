"""Writes to issues. Every change goes through a function here and leaves an IssueEvent."""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_save

from accounts.actors import Actor

from .batched_writes import (  # noqa: F401  (re-exported: callers import them from here)
    _new_issue_number,
    _next_issue_number,
    _number_at_batch_end,
    _touch,
    _touch_and_reindex,
    batched_issue_writes,
)
from .limits import (
    ENVIRONMENT_MAX_CHARS,
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
    LinkKind,
    SavedFilter,
)
from .search_documents import (  # noqa: F401  (re-exported: callers import them from here)
    _NEW_ISSUE_DOCUMENT_SQL,
    _SEARCH_VECTOR_SQL,
    SEARCH_DOCUMENT_SQL,
    new_issue_document,
    refresh_search_vectors,
)
from .selectors import may_change_issues


class IssueError(Exception):
    """A refused change; `str(error)` is the message shown to the user."""

    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None) -> None:
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


def _check_lengths(fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        if name in _TEXT_LIMITS and isinstance(value, str):
            label, limit = _TEXT_LIMITS[name]
            if len(value) > limit:
                raise IssueError(too_long_message(label, limit, value), field=name)


def record_event(
    issue: Issue,
    kind: str,
    *,
    actor: Actor | None = None,
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


def record_events(events: list[IssueEvent]) -> list[IssueEvent]:
    """Insert several events in one statement. Receivers of `post_save` (the notifications
    outbox kick) still see each one as created, as if saved through `record_event`."""
    IssueEvent.objects.bulk_create(events)
    for event in events:
        post_save.send(
            sender=IssueEvent,
            instance=event,
            created=True,
            raw=False,
            using=IssueEvent.objects.db,
            update_fields=None,
        )
    return events


def _event(
    issue: Issue,
    kind: str,
    *,
    actor: Actor | None = None,
    new: object = "",
    data: dict | None = None,
) -> IssueEvent:
    """An unsaved event, for `record_events`; the same fields as `record_event` writes."""
    return IssueEvent(
        issue=issue,
        actor=actor,
        kind=kind,
        field="",
        old_value="",
        new_value="" if new is None else str(new),
        data=data or {},
    )


def _watch(issue: Issue, user: Actor | None, *, actor: Actor | None, automatic: bool) -> bool:
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


def new_issue_watchers(
    issue: Issue, users: Iterable[Actor | None], *, actor: Actor | None
) -> list[IssueEvent]:
    """Make these people (None skipped, each once) watchers of an issue created in this
    transaction, in one INSERT (nobody watches it yet: no check); returns their automatic
    WATCHED events, unsaved, for `record_events` together with the creation's."""
    watchers = list({user.pk: user for user in users if user is not None}.values())
    if watchers:
        issue.watchers.add(*watchers)
    return [
        _event(
            issue,
            EventKind.WATCHED,
            actor=actor,
            new=str(user),
            data={"user_id": user.pk, "automatic": True},
        )
        for user in watchers
    ]


@contextmanager
def _atomic_with_files(*, savepoint: bool = True) -> Iterator[list[Attachment]]:
    """A transaction whose stored files are deleted again when it fails (storage is not
    transactional). Yields the list `_store_attachment` appends to. `savepoint=False` inside
    a caller's transaction: a failure rolls the caller's block back too (for writes whose
    callers never catch a database error and go on)."""
    stored: list[Attachment] = []
    try:
        with transaction.atomic(savepoint=savepoint):
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
    actor: Actor,
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


def add_attachment(issue: Issue, *, actor: Actor, upload: UploadedFile) -> Attachment:
    """Attach a file to the issue (size checked, stored through Django's storage API)."""
    _check_upload(upload)
    with _atomic_with_files() as stored:
        attachment = _store_attachment(issue, upload, actor=actor, comment=None, stored=stored)
        _touch(issue)
    return attachment


def add_comment(
    issue: Issue, *, author: Actor, body: str, attachments: Iterable[UploadedFile] = ()
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
        _touch_and_reindex(issue)
    return comment


def watch_automatically(issue: Issue, user: Actor | None, *, actor: Actor | None) -> bool:
    """Make `user` a watcher because of what happened (they own it, they sent it to retest);
    recorded as an automatic WATCHED event. False when already watching."""
    return _watch(issue, user, actor=actor, automatic=True)


def watch_issue(issue: Issue, *, user: Actor) -> bool:
    """Start watching; False when already watching."""
    with transaction.atomic():
        return _watch(issue, user, actor=user, automatic=False)


def unwatch_issue(issue: Issue, *, user: Actor) -> bool:
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


def link_issues(issue: Issue, *, target: Issue, kind: str, actor: Actor) -> IssueLink:
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


def unlink_issues(link: IssueLink, *, actor: Actor) -> None:
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


def save_filter(user: Actor, *, name: str, query: str) -> SavedFilter:
    """Save (or overwrite) a named list view for this user."""
    name = name.strip()
    if not name:
        raise IssueError("Give the filter a name.", field="name")
    query = query.lstrip("?")[:1000]
    saved, _ = SavedFilter.objects.update_or_create(
        user=user, name=name[:80], defaults={"query": query}
    )
    return saved


def delete_saved_filter(saved: SavedFilter, *, user: Actor) -> None:
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
