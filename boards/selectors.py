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
from typing import Any, cast

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

from accounts.models import User
from issues.models import OPEN_STATUSES, Comment, Issue, Severity, Status
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
    cells: dict[str, list[Card]] = field(default_factory=dict)

    def cards(self, status: str) -> list[Card]:
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


# A column's statement is compiled ONCE per board with a placeholder status and bound for each
# column: compiling a queryset costs more than running the statement it makes. The
# placeholder is a value no column holds and no filter can (forms refuse NUL characters);
# LIMIT is part of the SQL text (the ORM writes it so) and is replaced by an integer.
_STATUS_SLOT = "\x00board-status"
_LIMIT_SLOT = 987_654_321
_OPEN_ORDER = (F("resolution_due_at").asc(nulls_last=True), "-priority", "created_at", "pk")
_DONE_ORDER = ("-updated_at", "-pk")
# The same orders over a column's per-project rows (their columns, as the ORM names them).
_OPEN_ORDER_SQL = "resolution_due_at ASC NULLS LAST, priority DESC, created_at ASC, pk ASC"
_DONE_ORDER_SQL = "updated_at DESC, pk DESC"
# Across projects (PostgreSQL) a column's first cards are merged from each project's own first
# cards, an index range each in board order (a LATERAL join over the projects' ids), instead
# of sorting all the column's ids (~5,000 a column at 100,000 issues: 8 ms). Past this many
# projects the merge would read more index entries than the sort.
PER_PROJECT_MAX = 100
# The projects' ids in the merge: the LATERAL subquery's project is this column.
_PROJECT_REF = '"board_project"."id"'


@dataclass(frozen=True)
class _Template:
    """One compiled column statement, bound per column (and project)."""

    sql: str
    params: tuple[Any, ...]

    @classmethod
    def of(cls, qs: QuerySet) -> _Template:
        sql, params = qs.query.sql_with_params()
        return cls(sql, tuple(params))

    def bind(self, status: str, *, limit: int | None = None) -> tuple[str, list[Any]]:
        sql = self.sql
        if limit is not None:
            marker = f"LIMIT {_LIMIT_SLOT}"
            if marker not in sql:  # the ORM would have to stop writing LIMIT as text
                raise RuntimeError("The column statement has no LIMIT to bind.")
            sql = sql.replace(marker, f"LIMIT {int(limit)}")
        params = [status if isinstance(p, str) and p == _STATUS_SLOT else p for p in self.params]
        return sql, params


def _kind(status: str) -> str:
    """Columns sharing a statement: the open ones (board order by time left), Fixed (most
    recently moved first) and Closed (the same, within the window)."""
    return status if status in FINISHED else Status.NEW


def _column_qs(base: QuerySet[Issue], kind: str, *, closed_since: datetime) -> QuerySet[Issue]:
    """A column's issues, its status a placeholder; Closed within the window."""
    qs = base.filter(status=_STATUS_SLOT)
    if kind == Status.CLOSED:
        qs = qs.filter(updated_at__gte=closed_since)
    return qs


def column_counts(base: QuerySet[Issue], *, closed_since: datetime) -> dict[str, tuple[int, bool]]:
    """(count, capped) per status, each count stopping after COUNT_CAP: one statement, two
    compiled column statements bound per column. A capped count is an index range that stops
    at COUNT_CAP + 1, cheaper than one GROUP BY over every issue of the projects (EXPLAIN
    ANALYZE at 100,000 issues: 1.3 ms for the six capped counts; 25 ms for the GROUP BY of
    one project's 20,000 issues, 85 ms across five projects)."""
    templates: dict[str, _Template] = {}
    parts = []
    for i, status in enumerate(LIFECYCLE):
        kind = Status.CLOSED if status == Status.CLOSED else Status.NEW
        if kind not in templates:
            qs = _column_qs(base, kind, closed_since=closed_since)
            templates[kind] = _Template.of(qs.order_by().values("pk")[: COUNT_CAP + 1])
        sql, params = templates[kind].bind(status)
        # ORM-compiled SQL with its values as parameters, nothing from the request.
        parts.append((f"(SELECT COUNT(*) FROM ({sql}) AS col{i})", params))  # noqa: S608  # nosec B608
    counts = _one_row(parts)
    return {
        status: (min(n, COUNT_CAP), n > COUNT_CAP)
        for status, n in zip(LIFECYCLE, counts, strict=True)
    }


def _card_ids(
    base: QuerySet[Issue], *, closed_since: datetime, shown: dict[str, int], project_ids: list[int]
) -> tuple[str, list[Any]]:
    """The ids of every column's first cards in board order, as one UNION ALL (SQL and
    parameters). One project (or too many, or not PostgreSQL): a column is one index range.
    Several: each project's first cards of the column (an index range each, LATERAL over
    the projects' ids), merged and cut to the column's cap."""
    per_project = connection.vendor == "postgresql" and 1 < len(project_ids) <= PER_PROJECT_MAX
    templates: dict[str, _Template] = {}
    selects: list[str] = []
    params: list[Any] = []
    for i, status in enumerate(LIFECYCLE):
        cap = min(shown.get(status, CARD_PAGE), CARD_CAP)
        kind = _kind(status)
        if kind not in templates:
            qs = _column_qs(base, kind, closed_since=closed_since)
            columns: tuple[str, ...]
            if kind in FINISHED:
                qs = qs.order_by(*_DONE_ORDER)
                columns = ("pk", "updated_at")
            else:
                qs = qs.order_by(*_OPEN_ORDER)
                columns = ("pk", "resolution_due_at", "priority", "created_at")
            if per_project:
                qs = qs.filter(project_id=RawSQL(_PROJECT_REF, ()))  # noqa: S611  # nosec B611
            templates[kind] = _Template.of(qs.values(*columns)[:_LIMIT_SLOT])
        sql, p = templates[kind].bind(status, limit=cap)
        if per_project:
            order = _DONE_ORDER_SQL if kind in FINISHED else _OPEN_ORDER_SQL
            # ORM-compiled SQL, constant orders and an integer limit; ids as a parameter.
            sql = (
                f"SELECT merged.* FROM unnest(%s::bigint[]) AS board_project(id) "  # noqa: S608  # nosec B608
                f"CROSS JOIN LATERAL ({sql}) AS merged ORDER BY {order} LIMIT {int(cap)}"
            )
            p = [list(project_ids), *p]
        selects.append(f"SELECT pk FROM ({sql}) AS card{i}")  # noqa: S608  # nosec B608
        params.extend(p)
    return " UNION ALL ".join(selects), params


class CardPerson:
    """A card's owner: the few fields shown, with the user model's own rules for the name and
    the initials (no model instance per owner)."""

    __slots__ = ("id", "username", "display_name", "first_name", "last_name")

    def __init__(self, id: int, username: str, display_name: str, first: str, last: str):
        self.id = id
        self.username = username
        self.display_name = display_name
        self.first_name = first
        self.last_name = last

    get_full_name = User.get_full_name
    __str__ = User.__str__
    initials = User.initials


class Card:
    """One card as read: a plain row (`CARD_COLUMNS`), no model instance. It has what the
    card's HTML, its moves (`may_take`: owner, reporter) and its SLA badge (`time_left`,
    `render_sla_badge`) read, under the issue's own names."""

    __slots__ = (
        "id", "pk", "project_id", "number", "title", "type", "priority", "severity",
        "status", "owner_id", "reporter_id", "team_id", "created_at", "updated_at",
        "sla_cycle", "sla_paused_at", "resolution_due_at", "at_risk_at", "comment_count",
        "sla_outcome", "checklist_done", "checklist_total", "team_name", "project", "owner",
        "label_list",
    )  # fmt: skip

    def __init__(self, row: tuple, project: Project, owner: CardPerson | None):
        (
            self.id, self.project_id, self.number, self.title, self.type, self.priority,
            self.severity, self.status, self.owner_id, self.reporter_id, self.team_id,
            self.created_at, self.updated_at, self.sla_cycle, self.sla_paused_at,
            self.resolution_due_at, self.at_risk_at, self.comment_count, self.sla_outcome,
            self.checklist_done, self.checklist_total, self.team_name,
        ) = row[:22]  # fmt: skip
        self.pk = self.id
        self.project = project
        self.owner = owner
        self.label_list: list = []

    @property
    def key(self) -> str:
        return f"{self.project.key}-{self.number}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


# A card's columns, in `Card`'s order, then the owner's for `CardPerson`.
CARD_COLUMNS = (
    "id", "project_id", "number", "title", "type", "priority", "severity", "status",
    "owner_id", "reporter_id", "team_id", "created_at", "updated_at", "sla_cycle",
    "sla_paused_at", "resolution_due_at", "at_risk_at", "comment_count", "sla_outcome",
    "checklist_done", "checklist_total", "team_name",
    "owner__username", "owner__display_name", "owner__first_name", "owner__last_name",
)  # fmt: skip


def _sort_key(card: Card):
    if card.status in FINISHED:
        return (-card.updated_at.timestamp(), -card.id)
    due = card.resolution_due_at
    return (due is None, due.timestamp() if due else 0, -card.priority, card.created_at, card.id)


def board_cards(
    base: QuerySet[Issue],
    *,
    closed_since: datetime,
    projects: dict[int, Project],
    project_ids: list[int],
    with_team: bool = False,
    shown: dict[str, int] | None = None,
) -> dict[str, list[Card]]:
    """The first cards of each column in board order (one statement, plus labels): `shown`
    of the column's status, CARD_PAGE if not given, never more than CARD_CAP. `project_ids`:
    the projects the board covers; `projects` the request's visible projects by id: each
    card gets its project from them rather than one joined copy per card. Rows are read as
    plain values into `Card`s."""
    ids_sql, params = _card_ids(
        base, closed_since=closed_since, shown=shown or {}, project_ids=project_ids
    )
    ids = RawSQL(ids_sql, params)  # noqa: S611  # nosec B611 - ORM-compiled
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
            ),
            comment_count=Coalesce(Subquery(comments, output_field=IntegerField()), 0),
            checklist_done=F("checklist__done_count"),
            checklist_total=F("checklist__total_count"),
            team_name=F("team__name") if with_team else Value(None, output_field=CharField()),
        )
        .values_list(*CARD_COLUMNS)
    )
    owners: dict[int, CardPerson] = {}
    cards = []
    for row in rows:
        owner_id = row[8]
        owner = None
        if owner_id is not None:
            owner = owners.get(owner_id)
            if owner is None:
                owner = owners[owner_id] = CardPerson(owner_id, *row[22:])
        cards.append(Card(row, projects[row[1]], owner))
    cards.sort(key=_sort_key)
    # The list's own label read (one plain query, no Label models); a Card has every
    # attribute it reads (pk, label_list).
    attach_label_names(cast("list[Issue]", cards))
    columns: dict[str, list[Card]] = {s: [] for s in LIFECYCLE}
    for card in cards:
        columns[card.status].append(card)
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
    user, issues: Iterable[Card], project_ids: list[int], *, roles: dict[int, str]
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
            # A Card has every attribute `may_take` reads (owner_id, reporter_id).
            if may_take(
                t,
                cast(Issue, issue),
                user,
                role=role,
                actors=project_overrides.get(t.name, t.actors),
            )
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


def lanes_of(columns: dict[str, list[Card]], by: str) -> list[Lane]:
    """The cards split into swimlanes (`by`: owner, severity, team; "" for one lane), in
    Python from the rows already read: a lane costs no query."""
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
                key, label = issue.team_id, issue.team_name or "No team"
            lane = lanes.setdefault(key, Lane(f"{by}-{key or 'none'}", label))
            lane.cells.setdefault(status, []).append(issue)
    if by == "severity":
        order = sorted(lanes, key=lambda k: -k)
    else:
        order = sorted(lanes, key=lambda k: (k is None, lanes[k].label.lower()))
    return [lanes[k] for k in order]


def closed_window(days: int, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=days)
