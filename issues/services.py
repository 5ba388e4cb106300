"""Writes to issues. Every change goes through a function here and leaves an IssueEvent."""

from django.db import transaction

from projects.models import Project

from .models import EventKind, Issue, IssueEvent


def start_sla_clock(issue: Issue, *, actor) -> None:
    # Imported late: workflows depends on issues, not the other way round.
    from workflows.services import start_sla_clock as _start

    _start(issue, actor=actor)


def _next_issue_number(project: Project) -> int:
    # The row lock serialises concurrent creators: no gaps, no duplicates.
    locked = Project.objects.select_for_update().get(pk=project.pk)
    locked.last_issue_number += 1
    locked.save(update_fields=["last_issue_number"])
    return locked.last_issue_number


def record_event(
    issue: Issue,
    kind: str,
    *,
    actor=None,
    field: str = "",
    old: object = "",
    new: object = "",
    data: dict | None = None,
) -> IssueEvent:
    return IssueEvent.objects.create(
        issue=issue,
        actor=actor,
        kind=kind,
        field=field,
        old_value="" if old is None else str(old),
        new_value="" if new is None else str(new),
        data=data or {},
    )


def create_issue(
    project: Project,
    *,
    reporter,
    title: str,
    description: str = "",
    type: str = "bug",
    priority: int = 2,
    severity: int = 2,
    owner=None,
    team=None,
    environment: str = "",
    affected_version: str = "",
) -> Issue:
    """File an issue: allocate its key under a lock, save it, record the creation."""
    with transaction.atomic():
        issue = Issue.objects.create(
            project=project,
            number=_next_issue_number(project),
            title=title,
            description=description,
            type=type,
            priority=priority,
            severity=severity,
            reporter=reporter,
            owner=owner,
            team=team,
            environment=environment,
            affected_version=affected_version,
        )
        record_event(issue, EventKind.CREATED, actor=reporter, new=issue.title)
        start_sla_clock(issue, actor=reporter)
    return issue
