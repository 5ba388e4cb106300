"""Reads that encode who may see which issue. Every view, export, search and email uses these."""

import re
from collections.abc import Iterable
from datetime import timedelta
from typing import NamedTuple

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from projects.models import Project
from projects.selectors import projects_for_request, projects_visible_to

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


def links_for_viewer(issue: Issue, user) -> list[LinkRow]:
    """Both directions of the issue's links (oldest first); the other end of each is checked
    against the access selector inside the same query (an EXISTS per row, no extra query)."""
    visible = issues_visible_to(user).order_by().values("pk")
    rows: list[LinkRow] = []
    outgoing = issue.links_out.select_related("target__project").annotate(
        other_visible=Exists(visible.filter(pk=OuterRef("target_id")))
    )
    for link in outgoing:
        other = link.target if link.other_visible else None
        rows.append(LinkRow(link, link.get_kind_display(), other))
    incoming = issue.links_in.select_related("source__project").annotate(
        other_visible=Exists(visible.filter(pk=OuterRef("source_id")))
    )
    for link in incoming:
        other = link.source if link.other_visible else None
        rows.append(LinkRow(link, INVERSE_LINK_LABELS[LinkKind(link.kind)], other))
    return rows


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


def parse_issue_key(key: str) -> tuple[str, int] | None:
    project_key, sep, number = key.strip().upper().rpartition("-")
    if not sep or not project_key or not number.isdigit():
        return None
    return project_key, int(number)


def get_issue_for_user(user, key: str) -> Issue:
    """The issue with this key (e.g. WEB-42) if the user may see it; 404 otherwise."""
    parsed = parse_issue_key(key)
    if parsed is None:
        raise Http404("No such issue.")
    project_key, number = parsed
    try:
        return (
            issues_visible_to(user)
            .select_related("owner", "reporter", "team")
            .get(project__key=project_key, number=number)
        )
    except Issue.DoesNotExist:
        raise Http404("No such issue.") from None


def search_issues(qs: QuerySet[Issue], text: str) -> QuerySet[Issue]:
    """Issues whose key, title, description or comments match `text`. PostgreSQL: full-text
    search, annotated with `rank`; elsewhere a plain case-insensitive substring match."""
    text = text.strip()
    if not text:
        return qs
    if connection.vendor == "postgresql":
        query = SearchQuery(text, search_type="websearch", config="english")
        return qs.filter(search_vector=query).annotate(rank=SearchRank(F("search_vector"), query))
    comments = Comment.objects.filter(issue=OuterRef("pk"), body__icontains=text)
    match: Q = Q(title__icontains=text) | Q(description__icontains=text) | Q(Exists(comments))
    parsed = parse_issue_key(text)
    if parsed:
        match |= Q(project__key=parsed[0], number=parsed[1])
    elif text.isdigit():
        match |= Q(number=int(text))
    return qs.filter(match)


SIMILAR_WINDOW = timedelta(days=90)
_WORD_RE = re.compile(r"[^\W_]{3,}")
_STOP = {"the", "and", "for", "with", "not", "when", "does", "are", "was", "from", "this", "that"}


def similar_issues(user, project: Project, text: str, *, limit: int = 5) -> list[Issue]:
    """Likely duplicates of a new issue: open or recently closed issues of the project (that the
    user can see) whose text shares words with `text`, best first."""
    words = [w.lower() for w in _WORD_RE.findall(text or "") if w.lower() not in _STOP][:12]
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


def issue_page_data(issue: Issue, user) -> dict:
    """Everything the issue page shows, in a fixed number of queries whatever the size of the
    history: comments (with attachments), activity, attachments, links both ways, watchers.
    Other issues named by links and link records are shown only as far as `user` may see them."""
    comments = list(
        issue.comments.select_related("author").prefetch_related("attachments").order_by("pk")
    )
    events = redact_hidden_issues(
        list(issue.events.exclude(kind=EventKind.COMMENTED).select_related("actor").order_by("pk")),
        user,
    )
    timeline: list[tuple[str, object]] = sorted(
        [("comment", c) for c in comments] + [("event", e) for e in events],
        key=lambda item: item[1].created_at,  # type: ignore[attr-defined]
    )
    links = links_for_viewer(issue, user)
    watchers = list(issue.watchers.all())
    return {
        "comments": comments,
        "timeline": timeline,
        "issue_attachments": [a for a in issue.attachments.all() if a.comment_id is None],
        "links": links,
        "hidden_linked_issue": HIDDEN_LINKED_ISSUE,
        "watchers": watchers,
        "is_watching": any(w.pk == user.pk for w in watchers),
        "labels": list(issue.labels.all()),
    }


def saved_filters_of(user) -> QuerySet[SavedFilter]:
    return SavedFilter.objects.filter(user=user)
