"""What the issue page reads: its timeline (comments and activity interleaved, windowed to the
oldest and newest entries, with pages in between) and the rest of the page in a fixed number of
queries (`issue_page_data`). Other issues are named only as far as the viewer may see them,
through the access selectors in `issues.selectors`."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Q, prefetch_related_objects

from accounts.compiled import CompiledRead

from .inputs import parse_id
from .models import Attachment, Comment, EventKind, Issue, IssueEvent, Label
from .selectors import HIDDEN_LINKED_ISSUE, links_for_viewer, redact_hidden_issues

# The issue page's timeline is windowed: the oldest and the newest entries, and between them a
# "load more" link that fetches TIMELINE_PAGE entries at a time (htmx, or a plain page).
TIMELINE_HEAD = 10
TIMELINE_TAIL = 40
TIMELINE_PAGE = 50

_COMMENT, _EVENT = 0, 1  # the order of a comment and an event made at the same instant


@dataclass(frozen=True)
class TimelineCursor:
    """A position in the merged timeline: (created_at, kind, pk), as text in links."""

    at: datetime
    kind: int
    pk: int

    def __str__(self) -> str:
        return f"{self.at.isoformat()}~{self.kind}~{self.pk}"

    @classmethod
    def parse(cls, text: str) -> "TimelineCursor | None":
        parts = (text or "").split("~")
        if len(parts) != 3:
            return None
        try:
            at = datetime.fromisoformat(parts[0])
        except ValueError:
            return None
        kind, pk = parse_id(parts[1], maximum=1), parse_id(parts[2])
        if at.tzinfo is None or kind is None or pk is None:
            return None
        return cls(at, kind, pk)

    def q_after(self, kind: int) -> Q:
        """Rows of this kind that come after the cursor."""
        later = Q(created_at__gt=self.at)
        if kind > self.kind:
            return later | Q(created_at=self.at)
        if kind == self.kind:
            return later | Q(created_at=self.at, pk__gt=self.pk)
        return later

    def q_before(self, kind: int) -> Q:
        earlier = Q(created_at__lt=self.at)
        if kind < self.kind:
            return earlier | Q(created_at=self.at)
        if kind == self.kind:
            return earlier | Q(created_at=self.at, pk__lt=self.pk)
        return earlier


def _cursor(entry: tuple[str, Any]) -> TimelineCursor:
    kind, item = entry
    return TimelineCursor(item.created_at, _COMMENT if kind == "comment" else _EVENT, item.pk)


def _timeline_sources(issue: Issue):
    comments = issue.comments.select_related("author")
    events = issue.events.exclude(kind=EventKind.COMMENTED).select_related("actor")
    return comments, events


def _merge(comments, events) -> list[tuple[str, Any]]:
    entries = [("comment", c) for c in comments] + [("event", e) for e in events]
    entries.sort(key=_cursor_key)
    return entries


def _cursor_key(entry: tuple[str, Any]):
    cursor = _cursor(entry)
    return (cursor.at, cursor.kind, cursor.pk)


class _EdgeRead:
    """The `head` oldest and `tail` newest rows of one timeline source of an issue with their
    user (author or actor) and how many rows the source has: one statement, its SQL written
    once per process and database vendor from the models' metadata.

    The issue page ran this as an ORM query with three window functions; Django compiled it
    anew on every view (~4 ms of Python for the two sources, more than the rows cost), and
    PostgreSQL numbered every row of the issue twice. Here each end is an index-ordered
    LIMIT on (issue, created_at) and the rows are built the way the ORM builds them
    (`Model.from_db`, the fields' database converters, the user set as select_related
    does). `tests/issues/test_timeline.py` compares it with the ORM's reading."""

    def __init__(self, model, user_field: str, *, exclude_kind: str | None, head: int, tail: int):
        qn = connection.ops.quote_name
        self.model = model
        self.fields = list(model._meta.concrete_fields)
        self.user_fk = model._meta.get_field(user_field)
        self.user_model = self.user_fk.related_model
        self.user_fields = list(self.user_model._meta.concrete_fields)
        table, users = qn(model._meta.db_table), qn(self.user_model._meta.db_table)
        pk = qn(model._meta.pk.column)
        created = qn(model._meta.get_field("created_at").column)
        where = f"{qn(model._meta.get_field('issue').column)} = %s"
        self.kind = exclude_kind
        if exclude_kind is not None:
            where += f" AND {qn(model._meta.get_field('kind').column)} <> %s"
        columns = ", ".join(
            [f"t.{qn(f.column)}" for f in self.fields]
            + [f"u.{qn(f.column)}" for f in self.user_fields]
        )
        # Table and column names from the models, values bound as parameters.
        self.sql = (
            f"SELECT {columns}, (SELECT COUNT(*) FROM {table} WHERE {where}) "  # noqa: S608  # nosec B608
            f"FROM (SELECT {pk} FROM (SELECT {pk} FROM {table} WHERE {where} "
            f"ORDER BY {created}, {pk} LIMIT {int(head)}) oldest "
            f"UNION SELECT {pk} FROM (SELECT {pk} FROM {table} WHERE {where} "
            f"ORDER BY {created} DESC, {pk} DESC LIMIT {int(tail)}) newest) shown "
            f"JOIN {table} t ON t.{pk} = shown.{pk} LEFT JOIN {users} u "
            f"ON u.{qn(self.user_model._meta.pk.column)} = t.{qn(self.user_fk.column)} "
            f"ORDER BY t.{created}, t.{pk}"
        )
        self.converters = [self._converters(f, "t") for f in self.fields] + [
            self._converters(f, "u") for f in self.user_fields
        ]
        self.attnames = [f.attname for f in self.fields]
        self.user_attnames = [f.attname for f in self.user_fields]

    @staticmethod
    def _converters(field, alias: str) -> tuple[list, Any]:
        col = field.get_col(alias)
        return connection.ops.get_db_converters(col) + col.get_db_converters(connection), col

    def read(self, issue: Issue) -> tuple[list, int]:
        where: list[int | str] = [issue.pk] if self.kind is None else [issue.pk, self.kind]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, where * 3)
            fetched = cursor.fetchall()
        rows, width, db = [], len(self.fields), connection.alias
        total = 0
        for raw in fetched:
            values = list(raw)
            total = values.pop()
            for i, (converters, col) in enumerate(self.converters):
                for converter in converters:
                    values[i] = converter(values[i], col, connection)
            row = self.model.from_db(db, self.attnames, values[:width])
            user_values = values[width:]
            user = (
                self.user_model.from_db(db, self.user_attnames, user_values)
                if user_values[0] is not None
                else None
            )
            self.user_fk.set_cached_value(row, user)
            rows.append(row)
        return rows, total


_edge_reads: dict[str, tuple[_EdgeRead, _EdgeRead]] = {}


def _timeline_edge_reads() -> tuple[_EdgeRead, _EdgeRead]:
    """The comments' and the events' edge reads for this database (written once)."""
    reads = _edge_reads.get(connection.vendor)
    if reads is None:
        reads = (
            _EdgeRead(Comment, "author", exclude_kind=None, head=TIMELINE_HEAD, tail=TIMELINE_TAIL),
            _EdgeRead(
                IssueEvent,
                "actor",
                exclude_kind=EventKind.COMMENTED.value,
                head=TIMELINE_HEAD,
                tail=TIMELINE_TAIL,
            ),
        )
        _edge_reads[connection.vendor] = reads
    return reads


def _set_attachments(comments: list[Comment], attachments: Sequence[Any]) -> None:
    """Give each comment its attachments (oldest first) from the issue's own list, as
    prefetch_related would, without a query of their own."""
    by_comment: dict[int, list] = {comment.pk: [] for comment in comments}
    for attachment in attachments:
        if attachment.comment_id in by_comment:
            by_comment[attachment.comment_id].append(attachment)
    for comment in comments:
        # What prefetch_related_objects stores: a finished queryset in the instance's cache.
        queryset = comment.attachments.all()
        queryset._result_cache = by_comment[comment.pk]
        queryset._prefetch_done = True  # type: ignore[attr-defined]
        comment._prefetched_objects_cache = {"attachments": queryset}  # type: ignore[attr-defined]


def timeline_window(issue: Issue, user, *, attachments: Sequence[Any] | None = None) -> dict:
    """The shown part of the issue's timeline in three queries whatever its length (two when
    the caller passes all the issue's `attachments`): the TIMELINE_HEAD oldest and the
    TIMELINE_TAIL newest entries (comments with their attachments, and activity), how many
    lie hidden between them and where they start."""
    comment_read, event_read = _timeline_edge_reads()
    comments, comment_total = comment_read.read(issue)
    events, event_total = event_read.read(issue)
    events = redact_hidden_issues(events, user)
    entries = _merge(comments, events)
    total = comment_total + event_total
    if total <= TIMELINE_HEAD + TIMELINE_TAIL:
        head, tail = entries, []
    else:
        head, tail = entries[:TIMELINE_HEAD], entries[-TIMELINE_TAIL:]
    shown = head + tail
    shown_comments = [item for kind, item in shown if kind == "comment"]
    if attachments is None:
        prefetch_related_objects(shown_comments, "attachments")
    else:
        _set_attachments(shown_comments, attachments)
    hidden = total - len(shown)
    return {
        "timeline": shown,
        "timeline_head": head,
        "timeline_tail": tail,
        "timeline_hidden": hidden,
        "timeline_page_size": TIMELINE_PAGE,
        "timeline_total": total,
        "timeline_after": str(_cursor(head[-1])) if hidden else "",
        "timeline_before": str(_cursor(tail[0])) if hidden else "",
        "comments": shown_comments,
    }


def timeline_page(
    issue: Issue,
    user,
    *,
    after: TimelineCursor,
    before: TimelineCursor,
    size: int = TIMELINE_PAGE,
) -> dict:
    """Up to `size` entries of the timeline strictly between two cursors, oldest first, and
    how many remain between the last of them and `before`."""
    comments_qs, events_qs = _timeline_sources(issue)
    comments_qs = comments_qs.filter(after.q_after(_COMMENT), before.q_before(_COMMENT))
    events_qs = events_qs.filter(after.q_after(_EVENT), before.q_before(_EVENT))
    entries = _merge(
        comments_qs.order_by("created_at", "id")[:size],
        redact_hidden_issues(list(events_qs.order_by("created_at", "id")[:size]), user),
    )[:size]
    prefetch_related_objects([item for kind, item in entries if kind == "comment"], "attachments")
    remaining = 0
    if entries:
        last = _cursor(entries[-1])
        remaining = (
            comments_qs.filter(last.q_after(_COMMENT)).count()
            + events_qs.filter(last.q_after(_EVENT)).count()
        )
    return {
        "entries": entries,
        "remaining": remaining,
        "after": str(_cursor(entries[-1])) if entries else "",
        "before": str(before),
    }


# What issue.watchers.all(), issue.attachments.all() and issue.labels.all() read, compiled once.
_watchers_of_issue: CompiledRead[Any] = CompiledRead(
    lambda issue_id: get_user_model().objects.filter(watched_issues__id=issue_id)
)
_attachments_of_issue: CompiledRead[Any] = CompiledRead(
    lambda issue_id: Attachment.objects.filter(issue_id=issue_id)
)
_labels_of_issue: CompiledRead[Any] = CompiledRead(
    lambda issue_id: Label.objects.filter(issues__id=issue_id)
)
_ATTACHMENT_ISSUE = Attachment._meta.get_field("issue")


def issue_page_data(issue: Issue, user) -> dict:
    """Everything the issue page shows, in a fixed number of queries whatever the size of the
    history: the timeline's window (comments with attachments, activity), attachments, links
    both ways, watchers. Other issues named by links and link records are shown only as far as
    `user` may see them."""
    links = links_for_viewer(issue, user)
    watchers = _watchers_of_issue.rows(issue.pk)
    # Every attachment of the issue in one query: its own and its comments'.
    attachments = _attachments_of_issue.rows(issue.pk)
    for attachment in attachments:
        _ATTACHMENT_ISSUE.set_cached_value(attachment, issue)  # as issue.attachments.all() does
    return {
        **timeline_window(issue, user, attachments=attachments),
        "issue_attachments": [a for a in attachments if a.comment_id is None],
        "links": links,
        "hidden_linked_issue": HIDDEN_LINKED_ISSUE,
        "watchers": watchers,
        "is_watching": any(w.pk == user.pk for w in watchers),
        "labels": _labels_of_issue.rows(issue.pk),
    }
