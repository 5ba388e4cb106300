"""Reads that encode who may see which issue. Every view, export, search and email uses these."""

import re
from datetime import timedelta

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

from projects.models import Project
from projects.selectors import projects_for_request, projects_visible_to

from .models import (
    INVERSE_LINK_LABELS,
    OPEN_STATUSES,
    Comment,
    EventKind,
    Issue,
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
    text = text.strip()
    if not text:
        return qs
    if connection.vendor == "postgresql":
        return qs.filter(search_vector=_search_query(text))
    comments = Comment.objects.filter(issue=OuterRef("pk"), body__icontains=text)
    match: Q = Q(title__icontains=text) | Q(description__icontains=text) | Q(Exists(comments))
    parsed = parse_issue_key(text)
    if parsed:
        match |= Q(project__key=parsed[0], number=parsed[1])
    elif text.isdigit():
        match |= Q(number=int(text))
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
    history: comments (with attachments), activity, attachments, links both ways, watchers."""
    comments = list(
        issue.comments.select_related("author").prefetch_related("attachments").order_by("pk")
    )
    events = list(
        issue.events.exclude(kind=EventKind.COMMENTED).select_related("actor").order_by("pk")
    )
    timeline: list[tuple[str, object]] = sorted(
        [("comment", c) for c in comments] + [("event", e) for e in events],
        key=lambda item: item[1].created_at,  # type: ignore[attr-defined]
    )
    links = [
        (link, link.get_kind_display(), link.target)
        for link in issue.links_out.select_related("target__project", "created_by")
    ] + [
        (link, INVERSE_LINK_LABELS[LinkKind(link.kind)], link.source)
        for link in issue.links_in.select_related("source__project", "created_by")
    ]
    watchers = list(issue.watchers.all())
    return {
        "comments": comments,
        "timeline": timeline,
        "issue_attachments": [a for a in issue.attachments.all() if a.comment_id is None],
        "links": links,
        "watchers": watchers,
        "is_watching": any(w.pk == user.pk for w in watchers),
        "labels": list(issue.labels.all()),
    }


def saved_filters_of(user) -> QuerySet[SavedFilter]:
    return SavedFilter.objects.filter(user=user)
