"""SLA clock services: start, respond, pause/resume (status or hold), retarget, stop, reopen
(a new policy version for every open issue: `policy_changes.py`). Each writes the append-only ledger (`ClockEvent`) and then
re-derives the cached deadlines through `sla.py`. Called through `workflows.services`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.actors import Actor
from issues.models import EventKind, Issue, Status
from issues.services import record_event
from projects.models import Project, Role
from projects.selectors import role_in_project

from . import sla
from .errors import TransitionForbidden, WorkflowError
from .models import (
    ClockEvent,
    ClockEventKind,
    HoldReason,
    PauseSource,
    SlaCycle,
    SlaPolicy,
    StatusPeriod,
)
from .transitions import Transition


def copy_saved_fields(issue: Issue, saved: Issue) -> None:
    for name in (
        "status",
        "owner_id",
        "version",
        "updated_at",
        "resolution",
        "resolution_summary",
        "root_cause",
        "lessons_learned",
        "sla_cycle",
        "sla_paused_at",
        "response_due_at",
        "resolution_due_at",
        "at_risk_at",
    ):
        setattr(issue, name, getattr(saved, name))
    issue._loaded_status = saved.status
    issue._state.fields_cache.pop("owner", None)


# --- SLA clock -----------------------------------------------------------------------------
def current_policy(project: Project) -> SlaPolicy:
    """The project's newest policy version; version 1 with the defaults on first use."""
    policy = SlaPolicy.objects.filter(project=project).order_by("-version").first()
    if policy is None:
        policy, _ = SlaPolicy.objects.get_or_create(
            project=project, version=1, defaults={"note": "Default policy"}
        )
    return policy


def _targets(policy: SlaPolicy, issue: Issue) -> tuple[int, int]:
    return (
        policy.response_target(issue.severity),
        policy.resolution_target(issue.priority, issue.severity),
    )


def _ledger(
    issue: Issue, cycle: int, kind: str, *, at: datetime, actor: Actor | None = None, **extra: Any
) -> ClockEvent:
    return ClockEvent.objects.create(
        issue=issue, cycle=cycle, kind=kind, at=at, actor=actor, **extra
    )


def _current_cycle(issue: Issue) -> SlaCycle | None:
    return (
        SlaCycle.objects.select_related("policy")
        .filter(issue=issue, number=issue.sla_cycle)
        .first()
    )


def _open_cycle(
    issue: Issue, *, number: int, at: datetime, actor: Actor | None, responded: bool
) -> SlaCycle:
    """A new cycle: targets from the current policy, ledger, first stage, deadlines; written
    with as few round trips as possible (this runs on every issue creation)."""
    policy = current_policy(issue.project)
    response, resolution = _targets(policy, issue)
    cycle = SlaCycle(
        issue=issue,
        project_id=issue.project_id,
        number=number,
        policy=policy,
        business_hours=issue.severity in [int(s) for s in policy.business_severities],
        response_target_seconds=None if responded else response,
        resolution_target_seconds=resolution,
        started_at=at,
        responded_at=at if responded else None,
    )
    events = [
        ClockEvent(issue=issue, cycle=number, kind=ClockEventKind.STARTED, at=at, actor=actor)
    ]
    if responded:
        events.append(
            ClockEvent(issue=issue, cycle=number, kind=ClockEventKind.RESPONDED, at=at, actor=actor)
        )
    if issue.status in policy.paused_statuses:
        events.append(
            ClockEvent(
                issue=issue,
                cycle=number,
                kind=ClockEventKind.PAUSED,
                at=at,
                actor=actor,
                source=PauseSource.STATUS,
                reason=Status(issue.status).label,
            )
        )
    deadlines = sla.compute_deadlines(issue, cycle, policy, events)
    cycle.response_due_at = deadlines.response_due_at
    cycle.resolution_due_at = deadlines.resolution_due_at
    cycle.save()
    ClockEvent.objects.bulk_create(events)
    StatusPeriod.objects.create(
        issue=issue, project_id=issue.project_id, cycle=number, status=issue.status, entered_at=at
    )
    sla.store_deadlines(issue, cycle, deadlines, fresh=True)
    return cycle


def start_sla_clock(issue: Issue, *, actor: Actor) -> None:
    """Start cycle 1 of a new issue: targets from the project's policy, deadlines cached.
    Part of the creation's transaction (no savepoint: nothing catches a failure here)."""
    with transaction.atomic(savepoint=False):
        _open_cycle(
            issue, number=issue.sla_cycle, at=issue.created_at, actor=actor, responded=False
        )


def _stop_cycle(issue: Issue, cycle: SlaCycle, *, at: datetime, actor: Actor | None) -> None:
    _ledger(issue, cycle.number, ClockEventKind.STOPPED, at=at, actor=actor)
    events = sla.cycle_events(issue, cycle.number)
    clock = sla.derive_clock(events)
    calendar = cycle.policy.calendar_for(issue.severity)
    worked = clock.consumed(calendar, at)
    cycle.stopped_at = at
    cycle.outcome = sla.outcome_of(worked, cycle.resolution_target_seconds)
    cycle.working_seconds = int(worked.total_seconds())
    cycle.waiting_seconds = int(clock.waiting(at).total_seconds())
    cycle.save(update_fields=["stopped_at", "outcome", "working_seconds", "waiting_seconds"])
    sla.refresh_deadlines(issue, cycle)


def move_clock_on_transition(
    issue: Issue, transition: Transition, old_status: str, *, actor: Actor | None, now: datetime
) -> None:
    StatusPeriod.objects.filter(issue=issue, left_at__isnull=True).update(left_at=now)
    if transition.new_cycle:
        issue.sla_cycle += 1
        issue.save(update_fields=["sla_cycle"])
        _open_cycle(issue, number=issue.sla_cycle, at=now, actor=actor, responded=True)
        return
    StatusPeriod.objects.create(
        issue=issue,
        project_id=issue.project_id,
        cycle=issue.sla_cycle,
        status=issue.status,
        entered_at=now,
    )
    cycle = _current_cycle(issue)
    if cycle is None or cycle.stopped_at is not None:
        return
    n = cycle.number
    if issue.status in (Status.FIXED, Status.CLOSED):
        _stop_cycle(issue, cycle, at=now, actor=actor)
        return
    if issue.status == Status.ASSIGNED and cycle.responded_at is None:
        cycle.responded_at = now
        # Business time on the clock until the response (also the reports app's MTTA). The
        # outcome is judged on it, not on the cached response deadline: while the clock was
        # paused that cache is a projection from the pause, not the real deadline.
        taken = sla.derive_clock(sla.cycle_events(issue, n)).consumed(
            cycle.policy.calendar_for(issue.severity), now
        )
        cycle.response_outcome = sla.outcome_of(taken, cycle.response_target_seconds)
        cycle.response_seconds = int(taken.total_seconds())
        cycle.save(update_fields=["responded_at", "response_outcome", "response_seconds"])
        _ledger(issue, n, ClockEventKind.RESPONDED, at=now, actor=actor)
    paused = cycle.policy.paused_statuses
    if old_status in paused and issue.status not in paused:
        _ledger(issue, n, ClockEventKind.RESUMED, at=now, actor=actor, source=PauseSource.STATUS)
    if issue.status in paused and old_status not in paused:
        _ledger(
            issue,
            n,
            ClockEventKind.PAUSED,
            at=now,
            actor=actor,
            source=PauseSource.STATUS,
            reason=Status(issue.status).label,
        )
    sla.refresh_deadlines(issue, cycle)


def sla_change_needs_reason(issue: Issue, *, priority: int, severity: int) -> bool:
    """True when changing priority/severity to these values would move a running deadline."""
    if not issue.is_open:
        return False
    cycle = _current_cycle(issue)
    if cycle is None or cycle.stopped_at is not None:
        return False
    policy = cycle.policy
    new_resolution = policy.resolution_target(priority, severity)
    business = int(severity) in [int(s) for s in policy.business_severities]
    moved = new_resolution != cycle.resolution_target_seconds or business != cycle.business_hours
    if cycle.response_target_seconds is not None and cycle.responded_at is None:
        moved = moved or policy.response_target(severity) != cycle.response_target_seconds
    return moved


def _retarget(
    issue: Issue,
    cycle: SlaCycle,
    policy: SlaPolicy,
    *,
    actor: Actor,
    reason: str,
    events: list[ClockEvent] | None = None,
) -> bool:
    """Point the running cycle at `policy`'s targets for the issue's current fields."""
    old = (
        cycle.policy_id,
        cycle.response_target_seconds,
        cycle.resolution_target_seconds,
        cycle.business_hours,
    )
    response, resolution = _targets(policy, issue)
    cycle.policy = policy
    if cycle.responded_at is None and cycle.response_target_seconds is not None:
        cycle.response_target_seconds = response
    cycle.resolution_target_seconds = resolution
    cycle.business_hours = issue.severity in [int(s) for s in policy.business_severities]
    new = (
        cycle.policy_id,
        cycle.response_target_seconds,
        cycle.resolution_target_seconds,
        cycle.business_hours,
    )
    if old == new:
        return False
    cycle.save(
        update_fields=[
            "policy",
            "response_target_seconds",
            "resolution_target_seconds",
            "business_hours",
        ]
    )
    old_due = issue.resolution_due_at
    changed = _ledger(
        issue,
        cycle.number,
        ClockEventKind.TARGET_CHANGED,
        at=timezone.now(),
        actor=actor,
        reason=reason[:200],
        data={"resolution_target_seconds": [old[2], resolution], "policy_version": policy.version},
    )
    sla.refresh_deadlines(issue, cycle, events=None if events is None else [*events, changed])
    record_event(
        issue,
        EventKind.SLA,
        actor=actor,
        field="resolution_due_at",
        old=old_due.isoformat() if old_due else "",
        new=issue.resolution_due_at.isoformat() if issue.resolution_due_at else "",
        data={"action": "recomputed", "reason": reason, "policy_version": policy.version},
    )
    return True


def recompute_sla(issue: Issue, *, actor: Actor, reason: str) -> None:
    """After a priority/severity change: new targets for the running cycle, an audit record."""
    with transaction.atomic():
        locked = Issue.objects.select_for_update().select_related("project").get(pk=issue.pk)
        cycle = _current_cycle(locked)
        if not locked.is_open or cycle is None or cycle.stopped_at is not None:
            return
        _retarget(locked, cycle, cycle.policy, actor=actor, reason=reason)
    copy_saved_fields(issue, locked)


def _may_hold(issue: Issue, actor: Actor) -> None:
    role = role_in_project(actor, issue.project)
    if not (actor.is_superuser or role == Role.MANAGER or issue.owner_id == actor.pk):
        raise TransitionForbidden(f"Only the owner or a Manager may hold the clock of {issue.key}.")


def hold_sla_clock(issue: Issue, *, actor: Actor, reason: str, note: str = "") -> None:
    """Pause the issue's clock with a typed reason (waiting on reporter, vendor, release)."""
    if reason not in HoldReason.values:
        raise WorkflowError("Choose why the clock is on hold.", field="reason")
    with transaction.atomic():
        locked = Issue.objects.select_for_update().select_related("project").get(pk=issue.pk)
        _may_hold(locked, actor)
        cycle = _current_cycle(locked)
        if not locked.is_open or cycle is None or cycle.stopped_at is not None:
            raise WorkflowError(f"{locked.key} has no running SLA clock.")
        clock = sla.derive_clock(sla.cycle_events(locked, cycle.number))
        if PauseSource.HOLD in clock.pauses:
            raise WorkflowError(f"{locked.key} is already on hold.")
        label = HoldReason(reason).label
        _ledger(
            locked,
            cycle.number,
            ClockEventKind.PAUSED,
            at=timezone.now(),
            actor=actor,
            source=PauseSource.HOLD,
            reason=label,
            data={"hold_reason": reason, "note": note[:500]},
        )
        sla.refresh_deadlines(locked, cycle)
        record_event(
            locked,
            EventKind.SLA,
            actor=actor,
            field="sla_hold",
            new=label,
            data={"action": "hold", "reason": reason, "note": note[:500]},
        )
    copy_saved_fields(issue, locked)


def release_sla_hold(issue: Issue, *, actor: Actor) -> None:
    with transaction.atomic():
        locked = Issue.objects.select_for_update().select_related("project").get(pk=issue.pk)
        _may_hold(locked, actor)
        cycle = _current_cycle(locked)
        clock = sla.derive_clock(sla.cycle_events(locked, cycle.number)) if cycle else None
        if cycle is None or clock is None or PauseSource.HOLD not in clock.pauses:
            raise WorkflowError(f"{locked.key} is not on hold.")
        _ledger(
            locked,
            cycle.number,
            ClockEventKind.RESUMED,
            at=timezone.now(),
            actor=actor,
            source=PauseSource.HOLD,
        )
        sla.refresh_deadlines(locked, cycle)
        record_event(
            locked,
            EventKind.SLA,
            actor=actor,
            field="sla_hold",
            old=clock.pauses[PauseSource.HOLD],
            data={"action": "release"},
        )
    copy_saved_fields(issue, locked)
