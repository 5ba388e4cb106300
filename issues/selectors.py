"""Reads that encode who may see which issue. Every view, export, search and email uses these."""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import (
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
    prefetch_related_objects,
)
from django.http import Http404
from django.utils import timezone

from projects.models import Component, Project, Team, Version
from projects.selectors import projects_for_request, projects_visible_to, sees_every_project

from .compiled import CompiledRead
from .inputs import MAX_ISSUE_NUMBER, parse_id, parse_issue_key
from .limits import SEARCH_MAX_CHARS
from .models import (
    INVERSE_LINK_LABELS,
    OPEN_STATUSES,
    Attachment,
    Comment,
    EventKind,
    Issue,
    IssueEvent,
    IssueLink,
    Label,
    LinkKind,
    SavedFilter,
)


def issues_visible_to(user) -> QuerySet[Issue]:
    """Issues of the projects the user belongs to (all for staff); archived ones excluded.
    The full-text document is deferred: only the search filter reads it, in SQL."""
    return _live_issues().filter(project__in=projects_visible_to(user))


def issues_visible_for_request(request) -> QuerySet[Issue]:
    """`issues_visible_to(request.user)` with the user's projects loaded once per request
    (`projects_for_request`) and inlined as a list of ids: PostgreSQL plans `project_id IN
    (1, 2)` several times faster than the membership semi-join, and can check it inside an
    index (the list's count is then an index-only scan)."""
    project_ids = [project.pk for project in projects_for_request(request)]
    return _live_issues().filter(project_id__in=project_ids)


def _live_issues() -> QuerySet[Issue]:
    return (
        Issue.objects.filter(archived_at__isnull=True)
        .select_related("project")
        .defer("search_vector")
    )


def issues_changeable_by(user) -> QuerySet[Issue]:
    """Issues the user may change (edit, comment, link). Any member of a project may edit its
    issues (README, Issues), so today this is exactly `issues_visible_to`; the name says which
    question a caller asks."""
    return issues_visible_to(user)


def may_change_issues(user, *issues: Issue) -> bool:
    """True when the user may change every one of these issues (one query). A link has two
    ends: adding or removing one needs the right to change both."""
    wanted = {issue.pk for issue in issues}
    return issues_changeable_by(user).filter(pk__in=wanted).count() == len(wanted)


# --- Related issues: what a viewer may see of an issue named by another one ---------------
#
# A link, an activity record or any other mention of a second issue shows that issue's key
# and title only when `issues_visible_to(viewer)` contains it; otherwise it is shown as this
# text, with no key, no title and no URL.
HIDDEN_LINKED_ISSUE = "a linked issue in a project you cannot see"
HIDDEN_ISSUE = "an issue in a project you cannot see"


class LinkRow(NamedTuple):
    """One row of an issue's Links panel as one viewer may see it."""

    link: IssueLink
    label: str  # from this issue's side: "blocks", "is blocked by", …
    other: Issue | None  # None: the other end is hidden from the viewer

    @property
    def hidden(self) -> bool:
        return self.other is None


_links_of_issue = CompiledRead(
    lambda issue_id: (
        IssueLink.objects.filter(Q(source_id=issue_id) | Q(target_id=issue_id))
        .select_related("source__project", "target__project")
        .order_by("created_at", "id")
    )
)


def links_for_viewer(issue: Issue, user) -> list[LinkRow]:
    """Both directions of the issue's links (oldest first) in one query; the other ends are
    then checked against the access selector in one more, only when there are links (most
    issues have none: one query for them)."""
    links = _links_of_issue.rows(issue.pk)
    if not links:
        return []
    others = {link.target_id if link.source_id == issue.pk else link.source_id for link in links}
    visible = set(issues_visible_to(user).filter(pk__in=others).values_list("pk", flat=True))
    outgoing: list[LinkRow] = []
    incoming: list[LinkRow] = []
    for link in links:
        if link.source_id == issue.pk:
            other = link.target if link.target_id in visible else None
            outgoing.append(LinkRow(link, link.get_kind_display(), other))
        else:
            other = link.source if link.source_id in visible else None
            incoming.append(LinkRow(link, INVERSE_LINK_LABELS[LinkKind(link.kind)], other))
    return outgoing + incoming


def get_link_of_issue(issue: Issue, pk: int) -> IssueLink:
    """One link of this issue (either end), with both ends loaded; 404 otherwise."""
    link = (
        IssueLink.objects.select_related("source__project", "target__project")
        .filter(Q(source=issue) | Q(target=issue), pk=pk)
        .first()
    )
    if link is None:
        raise Http404("No such link.")
    return link


_LINK_EVENTS = (EventKind.LINKED, EventKind.UNLINKED)


def _other_key(event: IssueEvent) -> str:
    # Link records keep the other issue's key: in new_value when added, old_value when removed.
    return event.new_value if event.kind == EventKind.LINKED else event.old_value


def visible_issue_keys(user, keys: Iterable[str]) -> set[str]:
    """Which of these issue keys (e.g. OPS-3) name an issue the user may see (one query, none
    for an empty list)."""
    wanted: dict[tuple[str, int], str] = {}
    for key in keys:
        parsed = parse_issue_key(key)
        if parsed is not None:
            wanted[parsed] = key
    if not wanted:
        return set()
    match = Q()
    for project_key, number in wanted:
        match |= Q(project__key=project_key, number=number)
    found = issues_visible_to(user).filter(match).values_list("project__key", "number")
    return {wanted[row] for row in found if row in wanted}


def redact_hidden_issues(events: list[IssueEvent], user) -> list[IssueEvent]:
    """Activity records as `user` may read them: a link record naming an issue the user may
    not see names it as HIDDEN_ISSUE instead (key and title gone from the loaded instance, so
    no template can show them). Append-only records are never saved, so this changes only
    what is shown. One query when there are link records, none otherwise."""
    linking = [e for e in events if e.kind in _LINK_EVENTS]
    if not linking:
        return events
    visible = visible_issue_keys(user, {_other_key(e) for e in linking})
    for event in linking:
        if _other_key(event) in visible:
            continue
        if event.kind == EventKind.LINKED:
            event.new_value = HIDDEN_ISSUE
        else:
            event.old_value = HIDDEN_ISSUE
        event.data = {k: v for k, v in event.data.items() if k in ("kind", "link_id")}
    return events


def _issue_by_key(viewer, project_key: str, number: int) -> QuerySet[Issue]:
    return (
        issues_visible_to(viewer)
        .select_related("owner", "reporter", "team", "component", "affected_version", "fix_version")
        .filter(project__key=project_key, number=number)
        .order_by()
    )


# The issue of a key as a member and as someone who sees every project: a shape each, compiled
# once (the access rule stays `issues_visible_to`'s, applied to a stand-in viewer).
_issue_for_member = CompiledRead(
    lambda user_id, project_key, number: _issue_by_key(
        get_user_model()(pk=user_id, is_staff=False, is_superuser=False), project_key, number
    )
)
_issue_for_staff = CompiledRead(
    lambda project_key, number: _issue_by_key(
        get_user_model()(is_staff=True, is_superuser=True), project_key, number
    )
)


def get_issue_for_user(user, key: str) -> Issue:
    """The issue with this key (e.g. WEB-42) if the user may see it; 404 otherwise."""
    parsed = parse_issue_key(key)
    if parsed is None:
        raise Http404("No such issue.")
    project_key, number = parsed
    if not user.is_authenticated:
        raise Http404("No such issue.")
    if sees_every_project(user):
        found = _issue_for_staff.rows(project_key, number)
    else:
        found = _issue_for_member.rows(user.pk, project_key, number)
    if not found:
        raise Http404("No such issue.")
    return found[0]


# A search ranks and counts at most this many matches: the most recently updated ones. A
# common word matches a fifth of a big tracker, and ranking (ts_rank reads each match's whole
# document) or counting all of them cost more than the page; past this the list says "More
# than 1,000 issues" and the best matches shown are the best of the newest 1,000. With fewer
# matches, every one is ranked: the order is exactly full-text rank, newest first on ties.
SEARCH_CANDIDATES = 1000


def _search_query(text: str) -> SearchQuery:
    return SearchQuery(text, search_type="websearch", config="english")


def search_issues(qs: QuerySet[Issue], text: str) -> QuerySet[Issue]:
    """Issues whose key, title, description or comments match `text`. PostgreSQL: full-text
    search over the stored document; elsewhere a plain case-insensitive substring match.
    Order them with `best_matches_first`."""
    # Longer text cannot match better; bounded, it cannot cost more either.
    text = text.strip()[:SEARCH_MAX_CHARS]
    if not text:
        return qs
    if connection.vendor == "postgresql":
        return qs.filter(search_vector=_search_query(text))
    comments = Comment.objects.filter(issue=OuterRef("pk"), body__icontains=text)
    match: Q = Q(title__icontains=text) | Q(description__icontains=text) | Q(Exists(comments))
    parsed = parse_issue_key(text)
    if parsed:
        match |= Q(project__key=parsed[0], number=parsed[1])
    elif (number := parse_id(text, maximum=MAX_ISSUE_NUMBER)) is not None:
        match |= Q(number=number)
    return qs.filter(match)


def best_matches_first(
    matches: QuerySet[Issue], text: str, *, base: QuerySet[Issue] | None = None
) -> QuerySet[Issue]:
    """`matches` (already filtered by `search_issues` and any other filter) limited to the
    SEARCH_CANDIDATES + 1 most recently updated, best full-text rank first, newest first on
    ties. The + 1 lets a capped count see that there are more. `base`: the queryset the
    filters started from (joins, deferred columns), so that the candidates are looked up by
    id instead of matching every filter a second time."""
    candidates = SEARCH_CANDIDATES
    # Ordered by an expression, not the column: PostgreSQL must then take the matches from the
    # full-text index and sort those, instead of walking the newest-first index and testing
    # each row's document (a detoast per row; 150 ms for a word in 6 % of 100,000 issues).
    recency = ExpressionWrapper(F("updated_at") + Value(timedelta(0)), output_field=DateTimeField())
    newest = (
        matches.annotate(recency=recency).order_by("-recency", "-pk").values("pk")[: candidates + 1]
    )
    bounded = (matches if base is None else base).filter(pk__in=newest)
    if connection.vendor != "postgresql":
        return bounded.order_by("-updated_at", "-pk")
    rank = SearchRank(F("search_vector"), _search_query(text.strip()))
    return bounded.annotate(rank=rank).order_by("-rank", "-updated_at", "-pk")


SIMILAR_WINDOW = timedelta(days=90)
_WORD_RE = re.compile(r"[^\W_]{3,}")
_STOP = {"the", "and", "for", "with", "not", "when", "does", "are", "was", "from", "this", "that"}


def similar_issues(user, project: Project, text: str, *, limit: int = 5) -> list[Issue]:
    """Likely duplicates of a new issue: open or recently closed issues of the project (that the
    user can see) whose text shares words with `text`, best first."""
    text = (text or "")[:SEARCH_MAX_CHARS]
    words = [w.lower()[:40] for w in _WORD_RE.findall(text) if w.lower() not in _STOP][:12]
    if not words:
        return []
    qs = issues_visible_to(user).filter(project=project)
    qs = qs.filter(Q(status__in=OPEN_STATUSES) | Q(updated_at__gte=timezone.now() - SIMILAR_WINDOW))
    if connection.vendor == "postgresql":
        query = SearchQuery(" | ".join(words), search_type="raw", config="english")
        qs = qs.filter(search_vector=query).annotate(rank=SearchRank(F("search_vector"), query))
        return list(qs.order_by("-rank", "-updated_at")[:limit])
    match = Q()
    for word in words:
        match |= Q(title__icontains=word)
    return list(qs.filter(match).order_by("-updated_at")[:limit])


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
_watchers_of_issue = CompiledRead(
    lambda issue_id: get_user_model().objects.filter(watched_issues__id=issue_id)
)
_attachments_of_issue = CompiledRead(lambda issue_id: Attachment.objects.filter(issue_id=issue_id))
_labels_of_issue = CompiledRead(lambda issue_id: Label.objects.filter(issues__id=issue_id))
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


def saved_filters_of(user) -> QuerySet[SavedFilter]:
    return SavedFilter.objects.filter(user=user)


class LabelName(NamedTuple):
    """A label as a list row shows it: its name only."""

    name: str


def attach_label_names(issues: Sequence[Issue]) -> None:
    """Set `label_list` on each issue (names in label order) with one plain query: cheaper
    than `prefetch_related`, which builds a related manager, a queryset and a Label per row
    (a sixth of the list page's Python time at 50 rows)."""
    by_issue: dict[int, list[LabelName]] = {issue.pk: [] for issue in issues}
    if by_issue:
        rows = (
            Issue.labels.through.objects.filter(issue_id__in=list(by_issue))
            .order_by("label__name")
            .values_list("issue_id", "label__name")
        )
        for issue_id, name in rows:
            by_issue[issue_id].append(LabelName(name))
    for issue in issues:
        issue.label_list = by_issue[issue.pk]  # type: ignore[attr-defined]


class ChoiceRow(NamedTuple):
    """A row of the filter bar's lists: kind `c` (component), `v` (version) or `t` (team)."""

    kind: str
    pk: int
    name: str
    project_key: str
    archived: bool


def filter_bar_rows(project_ids: Sequence[int]) -> list[ChoiceRow]:
    """The components and versions of these projects and every team, in one plain statement
    (kind, then project key, then name): what the list's and the board's filter bars offer.
    Raw SQL because the ORM's UNION of annotated querysets cost ~2 ms of Python to compile on
    every list page, more than the rows; the statement is the same on SQLite."""
    ids = [int(pk) for pk in project_ids]
    inside = f"IN ({', '.join(['%s'] * len(ids))})" if ids else "IN (NULL)"
    component, version, team, project = (
        Component._meta.db_table,
        Version._meta.db_table,
        Team._meta.db_table,
        Project._meta.db_table,
    )
    # Table names from the models, values bound as parameters.
    sql = (
        f"SELECT 'c', c.id, c.name, p.key, c.archived_at IS NOT NULL FROM {component} c "  # noqa: S608  # nosec B608
        f"JOIN {project} p ON p.id = c.project_id WHERE c.project_id {inside} "
        f"UNION ALL SELECT 'v', v.id, v.name, p.key, 0 = 1 FROM {version} v "
        f"JOIN {project} p ON p.id = v.project_id WHERE v.project_id {inside} "
        f"UNION ALL SELECT 't', t.id, t.name, '', 0 = 1 FROM {team} t "
        "ORDER BY 1, 4, 3"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, ids + ids)
        return [
            ChoiceRow(kind, pk, name, key, bool(archived))
            for kind, pk, name, key, archived in cursor.fetchall()
        ]
