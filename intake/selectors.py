"""Reads of the intake app: tokens, groups and the per-day chart."""

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection, models
from django.db.models import (
    Case,
    Count,
    IntegerField,
    Max,
    Min,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.actors import Viewer
from accounts.compiled import CompiledRead
from api.tokens import token_digest
from issues.models import Issue, Status
from projects.models import Project
from projects.selectors import projects_visible_to
from workflows.models import SlaPolicy
from workflows.selectors import (
    TimeLeft,
    business_horizons,
    time_left_of,
)

from .hotpath import fetchone
from .models import DailyCount, EventGroup, IntakeSettings, IntakeToken, Occurrence, SdkEvent

# The hot path of every intake request: token, project and settings in one query, written
# out because compiling the equivalent ORM query cost more CPU than running it.
_LOOKUP_SQL = (
    'SELECT t."id", t."last_used_at", t."created_by_id", t."digest", '
    'p."id", p."key", p."name", p."archived_at", '
    's."id", s."threshold", s."window_minutes", s."level_severity", s."regression_policy", '
    's."issue_type", s."rate_limit_per_minute" '
    'FROM "intake_intaketoken" t JOIN "projects_project" p ON p."id" = t."project_id" '
    'LEFT JOIN "intake_intakesettings" s ON s."project_id" = p."id" '
    'WHERE t."digest" = %s AND t."revoked_at" IS NULL'
)


def active_intake_token(raw: str) -> IntakeToken | None:
    """The unrevoked token with this secret, with its project and the project's intake
    settings attached (other fields load lazily), in one query."""

    row = fetchone(_LOOKUP_SQL, [token_digest(raw)])
    if row is None:
        return None
    db = connection.alias
    last_used = _as_datetime(row[1])
    token = IntakeToken.from_db(
        db,
        # from_db wants the values in the model's field order.
        ["id", "project_id", "digest", "created_by_id", "last_used_at"],
        [row[0], row[4], row[3], row[2], last_used],
    )
    project = Project.from_db(
        db, ["id", "key", "name", "archived_at"], [row[4], row[5], row[6], _as_datetime(row[7])]
    )
    token.project = project
    if row[8] is not None:
        severity = row[11]
        cfg = IntakeSettings.from_db(
            db,
            [
                "id",
                "project_id",
                "threshold",
                "window_minutes",
                "level_severity",
                "regression_policy",
                "issue_type",
                "rate_limit_per_minute",
            ],
            [
                row[8],
                row[4],
                row[9],
                row[10],
                json.loads(severity) if isinstance(severity, str | bytes) else severity,
                row[12],
                row[13],
                row[14],
            ],
        )
        cfg.project = project
        project.intake_settings = cfg
    return token


def _as_datetime(value: object) -> datetime | None:
    """Raw datetimes come back as datetimes on PostgreSQL and as UTC text on SQLite."""
    if value is not None and not isinstance(value, datetime):
        value = parse_datetime(str(value))
    if value is not None and timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value


def groups_of_project(project: Project) -> QuerySet[EventGroup]:
    return EventGroup.objects.filter(project=project).select_related("issue__project")


def daily_counts(
    group: EventGroup, *, days: int = 30, today: date | None = None
) -> list[tuple[date, int]]:
    """One (day, count) per day of the last `days` days, zeros included, oldest first."""
    today = today or timezone.now().date()
    start = today - timedelta(days=days - 1)
    counts = dict(
        DailyCount.objects.filter(group=group, day__gte=start).values_list("day", "count")
    )
    return [
        (start + timedelta(days=i), counts.get(start + timedelta(days=i), 0)) for i in range(days)
    ]


def daily_counts_for_issue(issue: Issue, *, days: int = 30) -> list[tuple[date, int]]:
    """The per-day counts of every group feeding the issue, summed (one query; zeros
    included, oldest first); [] for an issue no monitoring group feeds."""
    return (occurrence_summary(issue, days=days) or {}).get("days", [])


def occurrence_summary(issue: Issue, *, days: int = 30, today: date | None = None) -> dict | None:
    """What the issue page shows of the events feeding the issue, or None for issues filed by
    hand: total, first/last seen, and per-day counts of the last `days` days. Two queries
    for intake issues, one otherwise (a constant for the page's query budget)."""

    totals = EventGroup.objects.filter(issue=issue).aggregate(
        total=Sum("count"),
        first=Min("first_seen"),
        last=Max("last_seen"),
        groups=models.Count("pk"),
    )
    if not totals["groups"]:
        return None
    today = today or timezone.now().date()
    start = today - timedelta(days=days - 1)
    counts = dict(
        DailyCount.objects.filter(group__issue=issue, day__gte=start)
        .order_by()
        .values("day")
        .annotate(n=Sum("count"))
        .values_list("day", "n")
    )
    return {
        "total": totals["total"] or 0,
        "first_seen": totals["first"],
        "last_seen": totals["last"],
        "groups": totals["groups"],
        "days": [
            (start + timedelta(days=i), counts.get(start + timedelta(days=i), 0))
            for i in range(days)
        ],
    }


# --- Triage ------------------------------------------------------------------------------

# The risk score of a New issue (higher = look first), computed in SQL, each part shown:
SEVERITY_POINTS = {4: 40, 3: 25, 2: 10, 1: 0}  # Critical, Major, Minor, Trivial
PRIORITY_POINTS = {3: 20, 2: 10, 1: 0}  # High, Medium, Low
# Time left to the resolution deadline: (at most this long, points); breached = 30.
SLA_POINTS = (
    (timedelta(0), 30),
    (timedelta(hours=4), 25),
    (timedelta(hours=24), 15),
    (timedelta(hours=72), 5),
)
# Events of the issue's groups in the last 24 hours: (at least, points).
FREQUENCY_POINTS = ((100, 20), (10, 12), (1, 5))


def triage_queue(
    user: Viewer, *, now: datetime | None = None, project_ids: Sequence[int] | None = None
) -> QuerySet[Issue]:
    """New issues of the user's projects, highest risk score first. `project_ids`: the
    projects `projects_visible_to(user)` gives, when the caller has them already (a page has
    them from `projects_for_request`); otherwise they are read here."""

    now = now or timezone.now()
    since = now - timedelta(hours=24)
    recent = (
        Occurrence.objects.filter(group__issue=OuterRef("pk"), received_at__gte=since)
        .order_by()
        .values("group__issue")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    # Only the issues with events in the last 24 h run the per-issue count: the set of them
    # is one hashed subquery, so the ranking does not run three correlated subqueries for
    # each of thousands of New issues (the score uses the count three times).
    with_recent_events = Occurrence.objects.filter(received_at__gte=since).values("group__issue")

    def points(field: str, table: dict[int, int]) -> Case:
        return Case(
            *(When(**{field: value}, then=Value(pts)) for value, pts in table.items()),
            default=Value(0),
            output_field=IntegerField(),
        )

    if project_ids is None:
        project_ids = list(projects_visible_to(user).values_list("pk", flat=True))
    ids = sorted(set(project_ids))
    # `issues_visible_to` with the visible projects as a list of ids: the planner counts
    # and ranks `project_id IN (…)` inside the index, where the membership semi-join made it
    # walk every New issue once per project (and once more to find the projects' policies).
    visible = (
        Issue.objects.filter(archived_at__isnull=True, project_id__in=ids)
        .select_related("project")
        .defer("search_vector")
    )
    # Time left in each project's business time (the rule of the SLA box, `time_left`):
    # "under 4 h" means 4 hours of the issue's own calendar, not of the wall clock. Every
    # visible project has its entry (its newest policy, or the defaults), so the score needs
    # no clause for "other" projects.
    policies: dict[int, SlaPolicy] = {pk: SlaPolicy() for pk in ids}
    for policy in SlaPolicy.objects.filter(project_id__in=ids).order_by("project_id", "version"):
        policies[policy.project_id] = policy  # the newest version wins
    sla = Case(
        When(resolution_due_at__lte=now, then=Value(SLA_POINTS[0][1])),
        *(
            When(business_horizons(policies, now, delta), then=Value(pts))
            for delta, pts in SLA_POINTS[1:]
        ),
        default=Value(0),
        output_field=IntegerField(),
    )
    return (
        visible.filter(status=Status.NEW)
        .select_related("owner")
        .annotate(
            events_24h=Case(
                When(
                    pk__in=with_recent_events,
                    then=Coalesce(Subquery(recent, output_field=IntegerField()), 0),
                ),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
        .annotate(
            severity_points=points("severity", SEVERITY_POINTS),
            priority_points=points("priority", PRIORITY_POINTS),
            sla_points=sla,
            frequency_points=Case(
                *(When(events_24h__gte=n, then=Value(pts)) for n, pts in FREQUENCY_POINTS),
                default=Value(0),
                output_field=IntegerField(),
            ),
        )
        .annotate(
            risk_score=models.F("severity_points")
            + models.F("priority_points")
            + models.F("sla_points")
            + models.F("frequency_points")
        )
        .order_by("-risk_score", "created_at", "pk")
    )


# What the ranking returns besides each issue's id: the score's parts, as `triage_queue`
# annotates them.
SCORE_PARTS = (
    "severity_points",
    "priority_points",
    "sla_points",
    "frequency_points",
    "events_24h",
    "risk_score",
)


def triage_page(queue: QuerySet[Issue], start: int, stop: int) -> list[Issue]:
    """The rows `start:stop` of `triage_queue`, in its order, with their scores: the page is
    ranked on the narrow index-only read (issue_live_project_sorts carries every column of
    the score), which returns each part of the score too, and only these issues are then read
    whole by id, with their owners (ranking the 20,000 New issues of a big tracker with every
    column attached cost ~80 ms; reading the page again through the queue compiled and ran
    the whole score once more)."""
    ranked = list(queue.values_list("pk", *SCORE_PARTS)[start:stop])
    found = {
        issue.pk: issue
        for issue in Issue.objects.filter(
            pk__in=[row[0] for row in ranked], status=Status.NEW, archived_at__isnull=True
        )
        .select_related("project", "owner")
        .defer("search_vector")
    }
    rows = []
    for pk, *parts in ranked:
        issue = found.get(pk)
        if issue is None:  # left the queue between the two reads
            continue
        for name, value in zip(SCORE_PARTS, parts, strict=True):
            setattr(issue, name, value)
        rows.append(issue)
    return rows


def score_reasons(
    issue: Issue, *, now: datetime | None = None, left: TimeLeft | None = None
) -> list[str]:
    """Why an issue from `triage_queue` has its score, one phrase per part."""
    now = now or timezone.now()
    reasons = [
        f"{issue.get_severity_display()} +{issue.severity_points}",  # type: ignore[attr-defined]
        f"{issue.get_priority_display()} priority +{issue.priority_points}",  # type: ignore[attr-defined]
    ]
    if issue.resolution_due_at is None:
        reasons.append("no SLA deadline +0")
    elif issue.resolution_due_at <= now:
        reasons.append(f"SLA breached +{issue.sla_points}")  # type: ignore[attr-defined]
    else:
        left = time_left_of(issue, now) if left is None else left
        reasons.append(f"{left.short} on the SLA +{issue.sla_points}")  # type: ignore[attr-defined]
    events = issue.events_24h  # type: ignore[attr-defined]
    if events:
        reasons.append(f"{events} events in 24 h +{issue.frequency_points}")  # type: ignore[attr-defined]
    return reasons


# --- Errors from Sentry SDKs -------------------------------------------------------------


def latest_sdk_events(issue: Issue, *, limit: int = 10) -> list[SdkEvent]:
    """The newest raw SDK events that counted for the issue, without their payloads (one
    indexed query; none for issues no SDK feeds)."""
    if limit == 10:
        return _latest_ten_sdk_events.rows(issue.pk)
    return list(_latest_sdk_events(issue.pk)[:limit])


def _latest_sdk_events(issue_id: int) -> QuerySet[SdkEvent]:
    return (
        SdkEvent.objects.filter(issue_id=issue_id)
        .only("pk", "event_id", "received_at", "issue_id")
        .order_by("-received_at", "-pk")
    )


# The issue page's read (its LIMIT is part of the SQL), compiled once.
_latest_ten_sdk_events: CompiledRead[Any] = CompiledRead(
    lambda issue_id: _latest_sdk_events(issue_id)[:10]
)


def sdk_event_of_issue(issue: Issue, event_id: str) -> SdkEvent | None:
    """One SDK event of an issue the caller already fetched through the access selector."""
    return SdkEvent.objects.filter(issue=issue, event_id=event_id).first()
