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
  severity (`SEVERITY_WEIGHT`; ties: fewer open issues, then username);
- "by component" (an issue with a component, or a rule that names a component and no owner
  or team) yields the component's lead when they may own the project's issues (`may_own`,
  the one owner rule) and are available, else the least-loaded available Developer of the
  component's default team, as a team rule. An issue that has a component is routed by it
  first; the project's rules apply when the component yields nobody.
A rule whose people are all unavailable is skipped (the reason is kept in `why`).
A rule may also set a component (`component`), on an issue that has none.
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from issues.models import OPEN_STATUSES, EventKind, Issue, Severity, Status
from issues.services import record_event
from projects.models import Component, Project, Team
from projects.selectors import OWNER_ROLES, may_own

from .errors import WorkflowError
from .models import AssignmentRule
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
    # Set on the issue with the assignment when it has none: the rule's or component's team,
    # the rule's component.
    team: Team | None = None
    component: Component | None = None


def available_users(project: Project, *, today: date) -> QuerySet:
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


def _matches(rule: AssignmentRule, *, component: str, names: set[str], labels: set[str]) -> bool:
    """`match_component` matches the intake event's component tag or the issue's component."""
    wanted = rule.match_component.strip().lower()
    if wanted and wanted != component.lower() and wanted not in names:
        return False
    return not (rule.match_label and rule.match_label.strip().lower() not in labels)


def _least_loaded(available: QuerySet, team: Team) -> Any:
    return (
        with_open_work(available.filter(teams=team).distinct())
        .only("id", "username", "display_name", "first_name", "last_name")
        .first()
    )


def _by_component(
    issue: Issue, component: Component, available: QuerySet, skipped: list[str]
) -> tuple[Any, str, Team | None]:
    """(person, why, team to set) for "by component"; (None, "", None) when nobody is."""
    lead = component.lead
    if lead is not None:
        if not may_own(lead, issue.project):
            skipped.append(f"{lead}, lead of {component}, may not own issues")
        elif available.filter(pk=lead.pk).exists():
            return lead, f"Component “{component}”: its lead {lead}.", None
        else:
            skipped.append(f"{lead}, lead of {component}, is unavailable")
    team = component.default_team
    if team is None:
        if lead is None:
            skipped.append(f"component {component} has no lead and no team")
        return None, "", None
    pick = _least_loaded(available, team)
    if pick is None:
        skipped.append(f"nobody in team {team} of {component} is available")
        return None, "", None
    why = (
        f"Component “{component}”: {pick} has the least open work in its team {team} "
        f"({pick.open_count} open, weighted {pick.open_load})."
    )
    return pick, why, team


def choose_assignee(issue: Issue, *, component_tag: str = "", today: date | None = None) -> Choice:
    """The person the issue's component or the project's rules choose for the issue, the
    rule, and why (no writes)."""
    today = today or timezone.localdate()
    available = available_users(issue.project, today=today)
    skipped: list[str] = []
    own = (
        Component.objects.select_related("lead", "default_team").get(pk=issue.component_id)
        if issue.component_id
        else None
    )
    if own is not None:
        user, why, team = _by_component(issue, own, available, skipped)
        if user is not None:
            return Choice(user, None, why, team=team)
    rules = list(
        AssignmentRule.objects.filter(project_id=issue.project_id).select_related(
            "owner", "team", "component__lead", "component__default_team"
        )
    )
    if not rules and not skipped:
        return Choice(None, None, "The project has no assignment rules.")
    labels = {name.lower() for name in issue.labels.values_list("name", flat=True)}
    names = {own.name.lower()} if own is not None else set()
    for rule in rules:
        if not _matches(rule, component=component_tag, names=names, labels=labels):
            continue
        sets = rule.component if own is None and rule.component is not None else None
        if rule.owner_id is not None:
            if available.filter(pk=rule.owner_id).exists():
                why = f"Rule “{rule.describe()}” names {rule.owner}."
                return Choice(rule.owner, rule, why, component=sets)
            skipped.append(f"{rule.owner} is unavailable")
            continue
        if rule.team_id is None:
            routed = rule.component or own
            if routed is None:  # pragma: no cover - the check constraint forbids it
                continue
            user, why, team = _by_component(issue, routed, available, skipped)
            if user is not None:
                return Choice(user, rule, f"Rule “{rule.describe()}”. {why}", team, sets)
            continue
        team = rule.team
        if team is None:  # pragma: no cover - team_id is set here
            continue
        pick = _least_loaded(available, team)
        if pick is None:
            skipped.append(f"nobody in team {team} is available")
            continue
        why = (
            f"Rule “{rule.describe()}”: {pick} has the least open work in team {team} "
            f"({pick.open_count} open, weighted {pick.open_load})."
        )
        return Choice(pick, rule, why, team=team, component=sets)
    why = "No rule matched." if not skipped else "No one available: " + "; ".join(skipped) + "."
    return Choice(None, None, why)


def auto_assign_issue(
    issue: Issue, *, component_tag: str = "", today: date | None = None
) -> Choice:
    """Assign a New issue without an owner to the person the rules choose: New -> Assigned
    through the workflow's system row "auto_assign" (actor None), whose audit record says
    which rule chose whom (data: rule, why, automatic). A team rule (or a component's team)
    also sets the issue's team when it has none, and a rule's component its component. Anyone may override it later (Back to New, or edit the owner)."""
    if issue.owner_id is not None:
        return Choice(None, None, "The issue already has an owner.")
    if issue.status != Status.NEW:
        return Choice(None, None, "Only New issues are assigned automatically.")
    choice = choose_assignee(issue, component_tag=component_tag, today=today)
    if choice.user is None:
        return choice
    audit = {
        "rule": choice.rule.pk if choice.rule else None,
        "why": choice.why,
        "automatic": True,
    }
    try:
        with transaction.atomic():
            if choice.team is not None and issue.team_id is None:
                Issue.objects.filter(pk=issue.pk).update(team_id=choice.team.pk)
                issue.team = choice.team
                record_event(
                    issue,
                    EventKind.CHANGED,
                    actor=None,
                    field="team",
                    old="",
                    new=choice.team.name,
                    data={"team_id": choice.team.pk, **audit},
                )
            if choice.component is not None and issue.component_id is None:
                Issue.objects.filter(pk=issue.pk).update(component_id=choice.component.pk)
                issue.component = choice.component
                record_event(
                    issue,
                    EventKind.CHANGED,
                    actor=None,
                    field="component",
                    old="",
                    new=choice.component.name,
                    data={"component_id": choice.component.pk, **audit},
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
