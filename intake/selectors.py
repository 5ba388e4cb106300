"""Reads of the intake app: tokens, groups and the per-day chart."""

from datetime import date, timedelta

from django.db import models
from django.db.models import QuerySet
from django.utils import timezone

from api.tokens import token_digest
from issues.models import Issue
from projects.models import Project

from .models import DailyCount, EventGroup, IntakeToken


def active_intake_token(raw: str) -> IntakeToken | None:
    """The unrevoked token with this secret, its project and settings in one query."""
    return (
        IntakeToken.objects.select_related("project", "project__intake_settings", "created_by")
        .filter(digest=token_digest(raw), revoked_at__isnull=True)
        .first()
    )


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
    """The per-day counts of every group feeding the issue, summed."""
    totals: dict[date, int] = {}
    for group in EventGroup.objects.filter(issue=issue):
        for day, count in daily_counts(group, days=days):
            totals[day] = totals.get(day, 0) + count
    if not totals:
        return []
    return sorted(totals.items())


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


def triage_queue(user, *, now=None) -> QuerySet[Issue]:
    """New issues of the user's projects, highest risk score first."""
    from django.db.models import Case, Count, IntegerField, OuterRef, Subquery, Value, When
    from django.db.models.functions import Coalesce

    from issues.models import Status
    from issues.selectors import issues_visible_to

    from .models import Occurrence

    now = now or timezone.now()
    recent = (
        Occurrence.objects.filter(
            group__issue=OuterRef("pk"), received_at__gte=now - timedelta(hours=24)
        )
        .order_by()
        .values("group__issue")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )

    def points(field: str, table: dict[int, int]):
        return Case(
            *(When(**{field: value}, then=Value(pts)) for value, pts in table.items()),
            default=Value(0),
            output_field=IntegerField(),
        )

    sla = Case(
        *(When(resolution_due_at__lte=now + delta, then=Value(pts)) for delta, pts in SLA_POINTS),
        default=Value(0),
        output_field=IntegerField(),
    )
    return (
        issues_visible_to(user)
        .filter(status=Status.NEW)
        .select_related("owner")
        .annotate(events_24h=Coalesce(Subquery(recent, output_field=IntegerField()), 0))
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


def score_reasons(issue: Issue, *, now=None) -> list[str]:
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
        hours = (issue.resolution_due_at - now).total_seconds() / 3600
        reasons.append(f"{hours:.0f} h left on the SLA +{issue.sla_points}")  # type: ignore[attr-defined]
    events = issue.events_24h  # type: ignore[attr-defined]
    if events:
        reasons.append(f"{events} events in 24 h +{issue.frequency_points}")  # type: ignore[attr-defined]
    return reasons
