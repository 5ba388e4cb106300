"""Reads that encode who may see which issue. Every view, export, search and email uses these."""

import re
from collections.abc import Iterable, Sequence
from datetime import timedelta
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
)
from django.http import Http404
from django.utils import timezone

from accounts.compiled import CompiledRead
from projects.models import Component, Project, Team, Version
from projects.selectors import projects_for_request, projects_visible_to, sees_every_project

from .inputs import MAX_ISSUE_NUMBER, parse_id, parse_issue_key
from .limits import SEARCH_MAX_CHARS
from .models import (
    INVERSE_LINK_LABELS,
    OPEN_STATUSES,
    Comment,
    EventKind,
    Issue,
    IssueEvent,
    IssueLink,
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


_links_of_issue: CompiledRead[Any] = CompiledRead(
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
_issue_for_member: CompiledRead[Any] = CompiledRead(
    lambda user_id, project_key, number: _issue_by_key(
        get_user_model()(pk=user_id, is_staff=False, is_superuser=False), project_key, number
    )
)
_issue_for_staff: CompiledRead[Any] = CompiledRead(
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


def saved_filters_of(user) -> list[SavedFilter]:
    return _SAVED_FILTERS.rows(user.pk)


_SAVED_FILTERS: CompiledRead[SavedFilter] = CompiledRead(
    lambda pk: SavedFilter.objects.filter(user_id=pk)
)


class LabelName(NamedTuple):
    """A label as a list row shows it: its name only."""

    name: str


def attach_label_names(issues: Sequence[Issue]) -> None:
    """Set `label_list` on each issue (names in label order) with one plain query: cheaper
    than `prefetch_related`, which builds a related manager, a queryset and a Label per row
    (a sixth of the list page's Python time at 50 rows)."""
    by_issue: dict[int, list[LabelName]] = {issue.pk: [] for issue in issues}
    if by_issue:
        for issue_id, name in _LABEL_NAMES.rows(tuple(by_issue)):
            by_issue[issue_id].append(LabelName(name))
    for issue in issues:
        issue.label_list = by_issue[issue.pk]  # type: ignore[attr-defined]


_LABEL_NAMES: CompiledRead[tuple[int, str]] = CompiledRead(
    lambda ids: (
        Issue.labels.through.objects.filter(issue_id__in=ids)
        .order_by("label__name")
        .values_list("issue_id", "label__name")
    )
)


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
