"""A new SLA policy version for a project, and every open issue's running cycle retargeted to it
in bulk; who may change a project's workflow (`require_manager`). Called through
`workflows.services`."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.actors import Actor
from issues.models import OPEN_STATUSES, EventKind, Issue, IssueEvent
from projects.models import Project, Role
from projects.selectors import role_in_project

from . import sla
from .clock import _targets, current_policy
from .errors import TransitionForbidden
from .models import ClockEvent, ClockEventKind, SlaCheckpoint, SlaCycle, SlaPolicy


def require_manager(project: Project, actor: Actor) -> None:
    if not (actor.is_superuser or role_in_project(actor, project) == Role.MANAGER):
        raise TransitionForbidden("Only a Manager of the project may change its workflow.")


def apply_sla_policy(project: Project, *, actor: Actor, draft: SlaPolicy, note: str) -> SlaPolicy:
    """Save `draft` as the project's next policy version and retarget every open issue's
    running cycle to it (finished cycles keep their policy and outcome). Each moved issue
    gets an SLA audit record saying why."""
    require_manager(project, actor)
    with transaction.atomic():
        Project.objects.select_for_update().get(pk=project.pk)
        latest = current_policy(project)
        draft.pk = None
        draft.project = project
        draft.version = latest.version + 1
        draft.created_by = actor
        draft.note = note[:200]
        draft.save()
        reason = f"SLA policy v{draft.version}: {note}".strip().rstrip(":")
        _retarget_all(project, draft, actor=actor, reason=reason)
    return draft


def _retarget_all(project: Project, policy: SlaPolicy, *, actor: Actor, reason: str) -> int:
    """`_retarget` for every open issue of the project, in bulk: one lock query, one read per
    table, bulk writes; the arithmetic runs in memory. Returns how many issues moved."""
    issues = list(
        Issue.objects.select_for_update()
        .filter(project=project, status__in=_open_values())
        .select_related("project")
        .order_by("pk")
    )
    cycles = {
        (c.issue_id, c.number): c
        for c in SlaCycle.objects.filter(issue__in=issues, stopped_at__isnull=True)
    }
    ledgers: dict[tuple[int, int], list[ClockEvent]] = {}
    for ev in ClockEvent.objects.filter(issue__in=issues):
        ledgers.setdefault((ev.issue_id, ev.cycle), []).append(ev)
    checkpoints: dict[tuple[int, int], dict] = {}
    for cp in SlaCheckpoint.objects.filter(issue__in=issues):
        checkpoints.setdefault((cp.issue_id, cp.cycle), {})[(cp.kind, cp.threshold)] = cp
    now = timezone.now()
    new_events: list[ClockEvent] = []
    audit: list[IssueEvent] = []
    changed_cycles: list[SlaCycle] = []
    changed_issues: list[Issue] = []
    checkpoint_work = []
    for issue in issues:
        cycle = cycles.get((issue.pk, issue.sla_cycle))
        if cycle is None:
            continue
        response, resolution = _targets(policy, issue)
        old_seconds = cycle.resolution_target_seconds
        cycle.policy = policy
        if cycle.responded_at is None and cycle.response_target_seconds is not None:
            cycle.response_target_seconds = response
        cycle.resolution_target_seconds = resolution
        cycle.business_hours = issue.severity in [int(s) for s in policy.business_severities]
        event = ClockEvent(
            issue=issue,
            cycle=cycle.number,
            kind=ClockEventKind.TARGET_CHANGED,
            at=now,
            actor=actor,
            reason=reason[:200],
            data={
                "resolution_target_seconds": [old_seconds, resolution],
                "policy_version": policy.version,
            },
        )
        new_events.append(event)
        deadlines = sla.compute_deadlines(
            issue, cycle, policy, [*ledgers.get((issue.pk, cycle.number), []), event]
        )
        old_due = issue.resolution_due_at
        issue.response_due_at = deadlines.response_due_at
        issue.resolution_due_at = deadlines.resolution_due_at
        issue.at_risk_at = deadlines.at_risk_at
        issue.sla_paused_at = deadlines.paused_since
        cycle.response_due_at = deadlines.response_due_at
        cycle.resolution_due_at = deadlines.resolution_due_at
        changed_cycles.append(cycle)
        changed_issues.append(issue)
        checkpoint_work.append(
            sla.checkpoint_changes(
                issue,
                cycle.number,
                checkpoints.get((issue.pk, cycle.number), {}),
                deadlines.checkpoints,
            )
        )
        if old_due != issue.resolution_due_at:
            audit.append(
                IssueEvent(
                    issue=issue,
                    actor=actor,
                    kind=EventKind.SLA,
                    field="resolution_due_at",
                    old_value=old_due.isoformat() if old_due else "",
                    new_value=(
                        issue.resolution_due_at.isoformat() if issue.resolution_due_at else ""
                    ),
                    data={
                        "action": "recomputed",
                        "reason": reason,
                        "policy_version": policy.version,
                    },
                )
            )
    ClockEvent.objects.bulk_create(new_events, batch_size=500)
    sla.bulk_set(
        SlaCycle,
        changed_cycles,
        [
            "policy",
            "response_target_seconds",
            "resolution_target_seconds",
            "business_hours",
            "response_due_at",
            "resolution_due_at",
        ],
    )
    sla.bulk_set(
        Issue,
        changed_issues,
        ["response_due_at", "resolution_due_at", "at_risk_at", "sla_paused_at"],
    )
    sla.write_checkpoint_changes(*checkpoint_work)
    IssueEvent.objects.bulk_create(audit, batch_size=500)
    return len(audit)


def _open_values() -> list[str]:
    return [str(s) for s in OPEN_STATUSES]
