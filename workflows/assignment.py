"""Auto-assignment: which rule routes a new issue to whom, and applying that choice.

Rules of a project are tried in order (`position`, then age); the first rule that matches
AND yields someone available wins:
- a rule matches when each of its non-empty criteria matches: `match_component` equals the
  issue's component (the `component` tag of intake events), `match_label` is one of the
  issue's labels (case-insensitive); a rule without criteria matches every issue;
- an owner rule yields its owner when they can take work: active, a Developer of the
  project (the lifecycle's owners are Developers: see the "assign" row of
  workflows/transitions.py), and not out of office today;
- a team rule yields the available team member with the least open work, weighted by
  severity (`SEVERITY_WEIGHT`; ties: fewer open issues, then username).
A rule whose people are all unavailable is skipped (the reason is kept in `why`).
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from intake.models import AssignmentRule
from issues.models import OPEN_STATUSES, EventKind, Issue, Severity, Status
from issues.services import record_event
from projects.selectors import OWNER_ROLES

from .errors import WorkflowError
from .services import take_system_transition

# Open work of a person = sum of these weights over the open issues they own.
SEVERITY_WEIGHT = {
    Severity.TRIVIAL: 1,
    Severity.MINOR: 2,
    Severity.MAJOR: 4,
    Severity.CRITICAL: 8,
}


@dataclass(frozen=True)
class Choice:
    user: Any
    rule: AssignmentRule | None
    why: str


def available_users(project, *, today: date) -> QuerySet:
    """People who can take work in the project today."""
    return (
        get_user_model()
        .objects.filter(
            is_active=True,
            memberships__project=project,
            memberships__role__in=OWNER_ROLES,
        )
        .filter(
            Q(availability__isnull=True)
            | Q(availability__away_until__isnull=True)
            | Q(availability__away_until__lt=today)
        )
    )


def with_open_work(users: QuerySet) -> QuerySet:
    open_issue = Q(owned_issues__status__in=OPEN_STATUSES, owned_issues__archived_at__isnull=True)
    weight = Case(
        *(When(owned_issues__severity=sev, then=Value(w)) for sev, w in SEVERITY_WEIGHT.items()),
        default=Value(2),
        output_field=IntegerField(),
    )
    return users.annotate(
        open_load=Coalesce(Sum(weight, filter=open_issue), 0),
        open_count=Count("owned_issues", filter=open_issue),
    ).order_by("open_load", "open_count", "username")


def _matches(rule: AssignmentRule, *, component: str, labels: set[str]) -> bool:
    if rule.match_component and rule.match_component.strip().lower() != component.lower():
        return False
    return not (rule.match_label and rule.match_label.strip().lower() not in labels)


def choose_assignee(issue: Issue, *, component: str = "", today: date | None = None) -> Choice:
    """The person the project's rules choose for the issue, the rule, and why (no writes)."""
    today = today or timezone.localdate()
    rules = list(
        AssignmentRule.objects.filter(project_id=issue.project_id).select_related("owner", "team")
    )
    if not rules:
        return Choice(None, None, "The project has no assignment rules.")
    labels = {name.lower() for name in issue.labels.values_list("name", flat=True)}
    skipped: list[str] = []
    for rule in rules:
        if not _matches(rule, component=component, labels=labels):
            continue
        available = available_users(issue.project, today=today)
        if rule.owner_id is not None:
            if available.filter(pk=rule.owner_id).exists():
                return Choice(rule.owner, rule, f"Rule “{rule.describe()}” names {rule.owner}.")
            skipped.append(f"{rule.owner} is unavailable")
            continue
        team = rule.team
        pick = (
            with_open_work(available.filter(teams=team).distinct())
            .only("id", "username", "display_name", "first_name", "last_name")
            .first()
        )
        if pick is None:
            skipped.append(f"nobody in team {team} is available")
            continue
        why = (
            f"Rule “{rule.describe()}”: {pick} has the least open work in team {team} "
            f"({pick.open_count} open, weighted {pick.open_load})."
        )
        return Choice(pick, rule, why)
    why = "No rule matched." if not skipped else "No one available: " + "; ".join(skipped) + "."
    return Choice(None, None, why)


def auto_assign_issue(issue: Issue, *, component: str = "", today: date | None = None) -> Choice:
    """Assign a New issue without an owner to the person the rules choose: New -> Assigned
    through the workflow's system row "auto_assign" (actor None), whose audit record says
    which rule chose whom (data: rule, why, automatic). A team rule also sets the issue's
    team when it has none. Anyone may override it later (Back to New, or edit the owner)."""
    if issue.owner_id is not None:
        return Choice(None, None, "The issue already has an owner.")
    if issue.status != Status.NEW:
        return Choice(None, None, "Only New issues are assigned automatically.")
    choice = choose_assignee(issue, component=component, today=today)
    if choice.user is None:
        return choice
    audit = {
        "rule": choice.rule.pk if choice.rule else None,
        "why": choice.why,
        "automatic": True,
    }
    try:
        with transaction.atomic():
            if choice.rule is not None and choice.rule.team_id and issue.team_id is None:
                Issue.objects.filter(pk=issue.pk).update(team_id=choice.rule.team_id)
                issue.team_id = choice.rule.team_id
                record_event(
                    issue,
                    EventKind.CHANGED,
                    actor=None,
                    field="team",
                    old="",
                    new=str(choice.rule.team),
                    data={"team_id": choice.rule.team_id, **audit},
                )
            take_system_transition(
                issue,
                "auto_assign",
                expected_status=Status.NEW,
                owner=choice.user.pk,  # type: ignore[attr-defined]
                reason=choice.why,
                audit=audit,
            )
    except WorkflowError as exc:
        # Someone assigned it meanwhile (stale) or the person cannot own it: leave it New.
        return Choice(None, None, f"Not assigned automatically: {exc}")
    return choice
