"""Board reads: which cards each column shows, in which order, and which moves each card offers.

The cost is constant whatever the number of issues: one statement counts every column (each
count stops at COUNT_CAP), one reads the cards of every column (CARD_PAGE each by default, more
on request up to CARD_CAP, the ids chosen per column by an index in a UNION ALL subquery), one
prefetches their labels, and the roles and transition overrides of the visible projects are
read once for all cards.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from issues.models import Comment, Issue, Severity, Status
from issues.selectors import attach_label_names
from projects.models import Membership, Project
from workflows.models import SlaCycle, TransitionRule
from workflows.selectors import STAGE_ORDER
from workflows.services import may_take
from workflows.transitions import Transition, transitions_from

from .models import ColumnLimit

# One column per status, in the lifecycle's order (the order of the table's statuses).
LIFECYCLE: tuple[str, ...] = tuple(STAGE_ORDER)
# Cards a column shows at first, and how many more each "Show more" adds (GitLab's boards load
# 20 per list): a board is read at a glance, the rest is the list's job. CARD_CAP is the most
# a column ever shows; beyond it "all in the list →".
CARD_PAGE = 20
CARD_CAP = 100
COUNT_CAP = 1000
CLOSED_DAYS = 14
MAX_CLOSED_DAYS = 365
# Columns whose clock has stopped: most recently moved first instead of by time left.
FINISHED = (Status.FIXED, Status.CLOSED)
LANES = {"owner": "Owner", "severity": "Severity", "team": "Team"}


@dataclass
class Column:
    status: str
    label: str
    count: int = 0
    capped: bool = False
    limit: int | None = None
    list_url: str = ""
    # Cards asked for (CARD_PAGE by default) and the board's URL with CARD_PAGE more.
    shown: int = CARD_PAGE
    more_url: str = ""

    @property
    def over_limit(self) -> bool:
        return self.limit is not None and self.count > self.limit

    @property
    def hidden(self) -> int:
        """Matching cards the column does not show (at least; the count stops at COUNT_CAP)."""
        return max(0, self.count - self.shown)

    @property
    def shown_cap(self) -> bool:
        """More cards than the column shows."""
        return self.capped or self.hidden > 0

    @property
    def may_show_more(self) -> bool:
        return self.shown_cap and self.shown < CARD_CAP


@dataclass
class Lane:
    key: str
    label: str
    cells: dict[str, list[Issue]] = field(default_factory=dict)

    def cards(self, status: str) -> list[Issue]:
        return self.cells.get(status, [])

    @property
    def size(self) -> int:
        return sum(len(c) for c in self.cells.values())


@dataclass
class Board:
    columns: list[Column]
    lanes: list[Lane]
    # Transitions each card offers its viewer, by issue id.
    moves: dict[int, list[Transition]]


def _one_row(parts: list[tuple[str, list[Any]]]) -> list[Any]:
    """Several scalar subqueries in ONE statement (`SELECT (a), (b), …`): each part is SQL
    compiled by the ORM with its own parameters, never text from the request."""
    sql = "SELECT " + ", ".join(p[0] for p in parts)
    params = [value for p in parts for value in p[1]]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)  # nosec B608 - ORM-compiled parts, values as parameters
        return list(cursor.fetchone())


def _compiled(qs: QuerySet) -> tuple[str, list[Any]]:
    sql, params = qs.query.sql_with_params()
    return sql, list(params)


def _column_qs(base: QuerySet[Issue], status: str, *, closed_since: datetime) -> QuerySet[Issue]:
    qs = base.filter(status=status)
    if status == Status.CLOSED:
        qs = qs.filter(updated_at__gte=closed_since)
    if status in FINISHED:
        return qs.order_by("-updated_at", "-pk")
    # SLA urgency (least time left first, no deadline last), then priority, then age.
    return qs.order_by(F("resolution_due_at").asc(nulls_last=True), "-priority", "created_at", "pk")


def _sort_key(issue: Issue):
    if issue.status in FINISHED:
        return (-issue.updated_at.timestamp(), -issue.pk)
    due = issue.resolution_due_at
    return (due is None, due.timestamp() if due else 0, -issue.priority, issue.created_at, issue.pk)


def column_counts(base: QuerySet[Issue], *, closed_since: datetime) -> dict[str, tuple[int, bool]]:
    """(count, capped) per status, each count stopping after COUNT_CAP (one statement)."""
    parts = []
    for i, status in enumerate(LIFECYCLE):
        sql, params = _compiled(
            _column_qs(base, status, closed_since=closed_since)
            .order_by()
            .values("pk")[: COUNT_CAP + 1]
        )
        # ORM-compiled SQL with its values as parameters, nothing from the request.
        parts.append((f"(SELECT COUNT(*) FROM ({sql}) AS col{i})", params))  # noqa: S608  # nosec B608
    counts = _one_row(parts)
    return {
        status: (min(n, COUNT_CAP), n > COUNT_CAP)
        for status, n in zip(LIFECYCLE, counts, strict=True)
    }


# What a card shows and its moves need (`may_take` reads owner and reporter): 600 cards build
# 600 models, so only these columns are read.
CARD_FIELDS = (
    "id", "project_id", "number", "title", "type", "priority", "severity", "status",
    "owner_id", "reporter_id", "team_id", "created_at", "updated_at", "sla_cycle",
    "sla_paused_at", "resolution_due_at", "at_risk_at",
    "owner__id", "owner__username", "owner__display_name", "owner__first_name",
    "owner__last_name",
)  # fmt: skip


def board_cards(
    base: QuerySet[Issue],
    *,
    closed_since: datetime,
    projects: dict[int, Project],
    with_team: bool = False,
    shown: dict[str, int] | None = None,
) -> dict[str, list[Issue]]:
    """The first cards of each column in board order (one statement, plus labels): `shown`
    of the column's status, CARD_PAGE if not given, never more than CARD_CAP. `projects` are
    the request's visible projects by id: each card gets its project from them rather than
    one joined copy per card."""
    shown = shown or {}
    selects = []
    params: list[Any] = []
    for i, status in enumerate(LIFECYCLE):
        cap = min(shown.get(status, CARD_PAGE), CARD_CAP)
        sql, p = _compiled(_column_qs(base, status, closed_since=closed_since).values("pk")[:cap])
        selects.append(f"SELECT * FROM ({sql}) AS card{i}")  # noqa: S608  # nosec B608
        params.extend(p)
    ids = RawSQL(" UNION ALL ".join(selects), params)  # noqa: S611  # nosec B611 - ORM-compiled
    related = ["owner", "team"] if with_team else ["owner"]
    fields = [*CARD_FIELDS, "team__id", "team__name"] if with_team else list(CARD_FIELDS)
    comments = (
        Comment.objects.filter(issue=OuterRef("pk"))
        .order_by()
        .values("issue")
        .annotate(n=Count("pk"))
        .values("n")
    )
    # Met/missed is shown on finished cards only: the subquery runs for those rows alone.
    outcome = (
        SlaCycle.objects.filter(issue=OuterRef("pk"), number=OuterRef("sla_cycle"))
        .order_by()
        .values("outcome")[:1]
    )
    rows = (
        Issue.objects.filter(pk__in=ids)
        .order_by()
        .annotate(
            sla_outcome=Case(
                When(status__in=FINISHED, then=Subquery(outcome)),
                default=Value(""),
                output_field=CharField(),
            )
        )
        .select_related(*related)
        .only(*fields)
        .annotate(comment_count=Coalesce(Subquery(comments, output_field=IntegerField()), 0))
        .annotate(
            checklist_done=F("checklist__done_count"), checklist_total=F("checklist__total_count")
        )
    )
    cards = sorted(rows, key=_sort_key)
    # The list's own label read (one plain query, no Label models).
    attach_label_names(cards)
    columns: dict[str, list[Issue]] = {s: [] for s in LIFECYCLE}
    for issue in cards:
        issue.project = projects[issue.project_id]
        columns[issue.status].append(issue)
    return columns


def roles_of(user, project_ids: list[int]) -> dict[int, str]:
    """The user's role in each of these projects (one query)."""
    if not user.is_authenticated:
        return {}
    return dict(
        Membership.objects.filter(user=user, project_id__in=project_ids)
        .order_by()
        .values_list("project_id", "role")
    )


def card_moves(
    user, issues: Iterable[Issue], project_ids: list[int], *, roles: dict[int, str]
) -> dict[int, list[Transition]]:
    """What each card's menu offers `user`: the same rule as the issue page's buttons
    (`workflows.services.may_take` with the project's overrides), its inputs read once for all
    cards (`roles` from `roles_of`; overrides: one query)."""
    if not user.is_authenticated:
        return {}
    overrides: dict[int, dict[str, frozenset[str]]] = {}
    for rule in TransitionRule.objects.filter(project_id__in=project_ids):
        overrides.setdefault(rule.project_id, {})[rule.transition] = frozenset(rule.actors)
    moves = {}
    for issue in issues:
        project_overrides = overrides.get(issue.project_id, {})
        role = roles.get(issue.project_id)
        moves[issue.pk] = [
            t
            for t in transitions_from(issue.status)
            if may_take(t, issue, user, role=role, actors=project_overrides.get(t.name, t.actors))
        ]
    return moves


def column_limits(project: Project | None) -> dict[str, int]:
    """WIP limits of a project's columns (a board across projects shows none)."""
    if project is None:
        return {}
    rows = ColumnLimit.objects.filter(project=project, limit__isnull=False)
    return {c.status: c.limit for c in rows if c.limit is not None}


def board_fingerprint(project_ids: list[int]) -> tuple[datetime | None, str]:
    """(last change, validator) of everything a board of these projects shows, in ONE cheap
    statement: the newest issue change (transitions, edits and comments all bump
    `updated_at`; read from the newest-first covering index), the newest WIP limit and
    the newest transition override. The validator adds a 5-minute time bucket, so SLA badges
    ("2 h left") and the Closed column's 14-day window never go stale for longer."""
    newest = Issue.objects.filter(project_id__in=project_ids).order_by("-updated_at", "-id")
    limits = ColumnLimit.objects.filter(project_id__in=project_ids).order_by("-updated_at")
    rules = TransitionRule.objects.filter(project_id__in=project_ids).order_by("-updated_at")
    parts = [_compiled(qs.values("updated_at")[:1]) for qs in (newest, limits, rules)]
    values = _one_row([(f"({sql})", params) for sql, params in parts])
    stamps = [v if isinstance(v, datetime) or v is None else parse_datetime(str(v)) for v in values]
    stamps = [timezone.make_aware(s, UTC) if s and timezone.is_naive(s) else s for s in stamps]
    known = [s for s in stamps if s is not None]
    last = max(known) if known else None
    bucket = int(timezone.now().timestamp() // 300)
    validator = "|".join(s.isoformat() if s else "-" for s in stamps) + f"|{bucket}"
    return last, validator


def lanes_of(columns: dict[str, list[Issue]], by: str) -> list[Lane]:
    """The cards split into swimlanes (`by`: owner, severity, team; "" for one lane)."""
    if by not in LANES:
        return [Lane("all", "", columns)]
    lanes: dict[Any, Lane] = {}
    for status, cards in columns.items():
        for issue in cards:
            if by == "owner":
                key, label = issue.owner_id, issue.owner.username if issue.owner else "Unassigned"
            elif by == "severity":
                key, label = issue.severity, Severity(issue.severity).label
            else:
                key, label = issue.team_id, issue.team.name if issue.team else "No team"
            lane = lanes.setdefault(key, Lane(f"{by}-{key or 'none'}", label))
            lane.cells.setdefault(status, []).append(issue)
    if by == "severity":
        order = sorted(lanes, key=lambda k: -k)
    else:
        order = sorted(lanes, key=lambda k: (k is None, lanes[k].label.lower()))
    return [lanes[k] for k in order]


def closed_window(days: int, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=days)
