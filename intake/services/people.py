"""Who takes new issues: a person's availability and a project's assignment rules (the
routing itself is workflows.assignment's)."""

from datetime import date

from django.utils import timezone

from accounts.actors import Actor
from projects.models import Component, Project, Team
from workflows.models import AssignmentRule, Availability

from .tokens import IntakeError


def set_availability(user: Actor, *, away_until: date | None, note: str = "") -> Availability:
    """Mark the user out of office until a date (inclusive), or back (None)."""
    if away_until is not None and away_until < timezone.localdate():
        raise IntakeError("Choose today or a later date.")
    row, _ = Availability.objects.update_or_create(
        user=user, defaults={"away_until": away_until, "note": note[:120]}
    )
    return row


def create_assignment_rule(
    project: Project,
    *,
    position: int,
    match_component: str,
    match_label: str,
    owner: Actor | None,
    team: Team | None,
    component: Component | None = None,
) -> AssignmentRule:
    """A rule targets an owner or a team, or (with neither) routes by its component."""
    if owner is not None and team is not None:
        raise IntakeError("Choose either an owner or a team (one of the two).")
    if owner is None and team is None and component is None:
        raise IntakeError("Choose an owner, a team, or a component (routed to its lead or team).")
    if component is not None and (
        component.project_id != project.pk or component.archived_at is not None
    ):
        raise IntakeError(f"Choose an active component of {project.key}.")
    return AssignmentRule.objects.create(
        project=project,
        position=position,
        match_component=match_component.strip(),
        match_label=match_label.strip(),
        owner=owner,
        team=team,
        component=component,
    )


def delete_assignment_rule(rule: AssignmentRule) -> None:
    rule.delete()
