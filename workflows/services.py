"""Status changes and SLA clocks. The workflows app owns every status change.

Contract used by other apps:
- `start_sla_clock(issue, *, actor)`: called by `issues.services.create_issue`.
- `sla_change_needs_reason(issue, *, priority, severity) -> bool`: the edit form asks for a
  reason when a priority/severity change would move a deadline.
- `recompute_sla(issue, *, actor, reason)`: called after priority/severity changes.
- `transition_issue(issue, to, *, actor, **data)`: the one way to change `Issue.status`.
- `hold_sla_clock` / `release_sla_hold`: put an issue's clock on hold with a typed reason.
- `apply_sla_policy(project, *, actor, draft, note)`: a new policy version for open issues.
- `set_transition_actors(project, *, actor, transition, actors)`: per-project role override.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from issues.models import EventKind, Issue, IssueEvent, Resolution, Severity, Status
from issues.services import record_event
from projects.models import Project, Role
from projects.selectors import role_in_project

from . import sla
from .models import (
    ClockEvent,
    ClockEventKind,
    CycleOutcome,
    HoldReason,
    PauseSource,
    RootCause,
    SlaCycle,
    SlaPolicy,
    StatusPeriod,
    TransitionRule,
)
from .transitions import BY_NAME, Actor, Need, Transition, actors_text, find_transition


class WorkflowError(Exception):
    """A refused transition or SLA change; `str(error)` is the message shown to the user.

    `field` names the form field the message belongs to (None: the whole action).
    """

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class TransitionForbidden(WorkflowError):
    """The user may not take this transition (403)."""

    status_code = 403


class StaleTransition(WorkflowError):
    """The issue is no longer in the status the user saw (409)."""

    status_code = 409


DISMISS_RESOLUTIONS = (
    Resolution.DUPLICATE,
    Resolution.WONT_FIX,
    Resolution.CANNOT_REPRODUCE,
    Resolution.INVALID,
)
TEXT_LIMIT = 5000


# --- who may ------------------------------------------------------------------------------
def transition_actors(project: Project, transition: Transition) -> frozenset[str]:
    """Who may take the transition in this project: its override, or the table's default."""
    rule = TransitionRule.objects.filter(project=project, transition=transition.name).first()
    return frozenset(rule.actors) if rule else transition.actors


def may_take(
    transition: Transition,
    issue: Issue,
    user,
    *,
    role: str | None,
    actors: frozenset[str],
) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if transition.owner_excluded and issue.owner_id == user.pk:
        return False
    if user.is_superuser:
        role = Role.MANAGER
    if role is None:
        return False
    if role in actors:
        return True
    if Actor.OWNER in actors and issue.owner_id == user.pk:
        return True
    return Actor.ISSUE_REPORTER in actors and issue.reporter_id == user.pk


def _check_may_take(transition: Transition, issue: Issue, actor) -> None:
    actors = transition_actors(issue.project, transition)
    role = role_in_project(actor, issue.project)
    if may_take(transition, issue, actor, role=role, actors=actors):
        return
    if transition.owner_excluded and issue.owner_id == actor.pk:
        raise TransitionForbidden(
            f"{transition.label} on {issue.key} needs someone other than its owner (four eyes)."
        )
    raise TransitionForbidden(
        f"You may not take “{transition.label}” on {issue.key}: "
        f"allowed for {actors_text(actors) or 'nobody'} in {issue.project.key}."
    )


# --- required fields -------------------------------------------------------------------------
def _text(data: dict, name: str) -> str:
    value = data.get(name)
    text = "" if value is None else str(value).strip()
    if len(text) > TEXT_LIMIT:
        raise WorkflowError(f"Keep this under {TEXT_LIMIT} characters.", field=name)
    return text


def _developer(project: Project, value: Any):
    User = get_user_model()
    user_id = getattr(value, "pk", value)
    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        raise WorkflowError("Choose an owner.", field="owner") from None
    owner = User.objects.filter(
        pk=user_id,
        is_active=True,
        memberships__project=project,
        memberships__role=Role.DEVELOPER,
    ).first()
    if owner is None:
        raise WorkflowError("The owner must be a Developer of the project.", field="owner")
    return owner


def _original(issue: Issue, value: Any) -> Issue:
    from issues.selectors import parse_issue_key

    if isinstance(value, Issue):
        original: Issue | None = value
    else:
        parsed = parse_issue_key(str(value or "").strip())
        original = None
        if parsed and parsed[0] == issue.project.key:
            original = Issue.objects.filter(project=issue.project, number=parsed[1]).first()
    if original is None or original.project_id != issue.project_id:
        raise WorkflowError(
            f"Name the original issue of {issue.project.key}, e.g. {issue.project.key}-1.",
            field="duplicate_of",
        )
    if original.pk == issue.pk:
        raise WorkflowError("An issue cannot duplicate itself.", field="duplicate_of")
    return original


def clean_transition_data(transition: Transition, issue: Issue, data: dict) -> dict[str, Any]:
    """The transition's fields, checked against the table; raises WorkflowError per field."""
    cleaned: dict[str, Any] = {}
    for f in transition.fields:
        if f.name == "owner":
            raw = data.get("owner")
            if raw in (None, ""):
                if f.need == Need.ALWAYS or issue.owner_id is None:
                    raise WorkflowError("Choose an owner.", field="owner")
                continue
            cleaned["owner"] = _developer(issue.project, raw)
        elif f.name == "root_cause":
            value = _text(data, "root_cause")
            if value and value not in RootCause.values:
                raise WorkflowError("Choose a root-cause category.", field="root_cause")
            cleaned["root_cause"] = value
        elif f.name == "resolution":
            value = _text(data, "resolution")
            if value not in DISMISS_RESOLUTIONS:
                raise WorkflowError(
                    "Choose duplicate, won't fix, cannot reproduce or invalid.",
                    field="resolution",
                )
            cleaned["resolution"] = value
        elif f.name == "duplicate_of":
            if data.get("resolution") == Resolution.DUPLICATE:
                cleaned["duplicate_of"] = _original(issue, data.get("duplicate_of"))
        else:
            cleaned[f.name] = _text(data, f.name)
        required = f.need == Need.ALWAYS or (
            f.need == Need.MAJOR and issue.severity >= Severity.MAJOR
        )
        if required and f.name not in ("owner", "resolution") and not cleaned.get(f.name):
            suffix = " for Major and Critical issues" if f.need == Need.MAJOR else ""
            raise WorkflowError(f"{f.label} is required{suffix}.", field=f.name)
    return cleaned


# --- the transition ------------------------------------------------------------------------
def _stale_message(issue: Issue) -> str:
    last = (
        IssueEvent.objects.filter(issue=issue, kind=EventKind.TRANSITIONED)
        .select_related("actor")
        .order_by("-created_at", "-id")
        .first()
    )
    status = Status(issue.status).label
    if last is None:
        return f"{issue.key} is now {status}; reload the page."
    when = timezone.localtime(last.created_at).strftime("%H:%M")
    who = last.actor.username if last.actor else "the system"
    return f"{issue.key} was moved to {status} by {who} at {when}; reload."


def transition_issue(
    issue: Issue, to: str, *, actor, expected_status: str | None = None, **data: Any
) -> Issue:
    """Move `issue` to status `to` as `actor`; the one way to change a status.

    Steps: find the row of the table -> lock the issue row -> refuse when it is no longer in
    the expected status (stale), when `actor` may not take it, or when a required field is
    missing -> save status, owner and closure fields -> record TRANSITIONED (and CHANGED
    owner) -> stage periods -> the SLA clock (respond, pause/resume, stop, new cycle).
    Returns the saved issue; the passed instance is updated too.
    """
    expected = expected_status or issue.status
    if to not in Status.values:
        raise WorkflowError(f"There is no status “{to}”.")
    with transaction.atomic():
        locked = Issue.objects.select_for_update().select_related("project").get(pk=issue.pk)
        if locked.status != expected:
            raise StaleTransition(_stale_message(locked))
        transition = find_transition(locked.status, to)
        if transition is None:
            raise WorkflowError(
                f"{locked.key} cannot go from {Status(locked.status).label} to {Status(to).label}."
            )
        _check_may_take(transition, locked, actor)
        cleaned = clean_transition_data(transition, locked, data)
        now = timezone.now()
        old_status = locked.status
        old_owner_id = locked.owner_id
        fields = _apply(transition, locked, cleaned)
        locked.status = to
        locked.version += 1
        locked._transitioning = True  # type: ignore[attr-defined]
        try:
            locked.save(update_fields=[*fields, "status", "version", "updated_at"])
        finally:
            locked._transitioning = False  # type: ignore[attr-defined]
        event_data = _event_data(transition, cleaned, locked)
        record_event(
            locked,
            EventKind.TRANSITIONED,
            actor=actor,
            field="status",
            old=old_status,
            new=to,
            data=event_data,
        )
        if locked.owner_id != old_owner_id:
            record_event(
                locked,
                EventKind.CHANGED,
                actor=actor,
                field="owner",
                old=old_owner_id or "",
                new=locked.owner_id or "",
                data={"owner_id": locked.owner_id},
            )
        _move_clock_on_transition(locked, transition, old_status, actor=actor, now=now)
    _copy_back(issue, locked)
    return locked


def _apply(transition: Transition, issue: Issue, cleaned: dict) -> list[str]:
    """Set the owner and closure fields the transition carries; the changed field names."""
    if transition.name == "assign" or (transition.name == "reopen" and "owner" in cleaned):
        issue.owner = cleaned["owner"]
        return ["owner"] + (["resolution"] if transition.name == "reopen" else [])
    if transition.name == "reopen":
        issue.resolution = ""
        return ["resolution"]
    if transition.name == "unassign":
        issue.owner = None
        return ["owner"]
    if transition.name == "close":
        issue.resolution = Resolution.FIXED
        issue.resolution_summary = cleaned["resolution_summary"]
        issue.root_cause = cleaned.get("root_cause", "")
        issue.lessons_learned = cleaned.get("lessons_learned", "")
        return ["resolution", "resolution_summary", "root_cause", "lessons_learned"]
    if transition.name == "dismiss":
        issue.resolution = cleaned["resolution"]
        summary = cleaned.get("resolution_summary", "")
        if "duplicate_of" in cleaned:
            summary = f"Duplicate of {cleaned['duplicate_of'].key}. {summary}".strip()
        issue.resolution_summary = summary
        return ["resolution", "resolution_summary"]
    return []


def _event_data(transition: Transition, cleaned: dict, issue: Issue) -> dict:
    data: dict[str, Any] = {"transition": transition.name}
    for name, value in cleaned.items():
        if name == "owner":
            data["owner_id"] = value.pk
        elif name == "duplicate_of":
            data["duplicate_of"] = value.key
            data["duplicate_of_id"] = value.pk
        else:
            data[name] = value
    if transition.name == "assign":
        data["owner_id"] = issue.owner_id
    return data


def _copy_back(issue: Issue, saved: Issue) -> None:
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


def _ledger(issue: Issue, cycle: int, kind: str, *, at: datetime, actor=None, **extra) -> None:
    ClockEvent.objects.create(issue=issue, cycle=cycle, kind=kind, at=at, actor=actor, **extra)


def _current_cycle(issue: Issue) -> SlaCycle | None:
    return (
        SlaCycle.objects.select_related("policy")
        .filter(issue=issue, number=issue.sla_cycle)
        .first()
    )


def _open_cycle(issue: Issue, *, number: int, at: datetime, actor, responded: bool) -> SlaCycle:
    policy = current_policy(issue.project)
    response, resolution = _targets(policy, issue)
    cycle = SlaCycle.objects.create(
        issue=issue,
        number=number,
        policy=policy,
        business_hours=issue.severity in [int(s) for s in policy.business_severities],
        response_minutes=None if responded else response,
        resolution_minutes=resolution,
        started_at=at,
        responded_at=at if responded else None,
    )
    _ledger(issue, number, ClockEventKind.STARTED, at=at, actor=actor)
    if responded:
        _ledger(issue, number, ClockEventKind.RESPONDED, at=at, actor=actor)
    if issue.status in policy.paused_statuses:
        _ledger(
            issue,
            number,
            ClockEventKind.PAUSED,
            at=at,
            actor=actor,
            source=PauseSource.STATUS,
            reason=Status(issue.status).label,
        )
    StatusPeriod.objects.create(issue=issue, cycle=number, status=issue.status, entered_at=at)
    sla.refresh_deadlines(issue, cycle)
    return cycle


def start_sla_clock(issue: Issue, *, actor) -> None:
    """Start cycle 1 of a new issue: targets from the project's policy, deadlines cached."""
    with transaction.atomic():
        _open_cycle(
            issue, number=issue.sla_cycle, at=issue.created_at, actor=actor, responded=False
        )


def _stop_cycle(issue: Issue, cycle: SlaCycle, *, at: datetime, actor) -> None:
    _ledger(issue, cycle.number, ClockEventKind.STOPPED, at=at, actor=actor)
    events = sla.cycle_events(issue, cycle.number)
    clock = sla.derive_clock(events)
    calendar = cycle.policy.calendar_for(issue.severity)
    worked = clock.consumed(calendar, at)
    target = timedelta(minutes=cycle.resolution_minutes)
    cycle.stopped_at = at
    cycle.outcome = CycleOutcome.MET if worked <= target else CycleOutcome.MISSED
    cycle.working_seconds = int(worked.total_seconds())
    cycle.waiting_seconds = int(clock.waiting(at).total_seconds())
    cycle.save(update_fields=["stopped_at", "outcome", "working_seconds", "waiting_seconds"])
    sla.refresh_deadlines(issue, cycle)


def _move_clock_on_transition(
    issue: Issue, transition: Transition, old_status: str, *, actor, now: datetime
) -> None:
    StatusPeriod.objects.filter(issue=issue, left_at__isnull=True).update(left_at=now)
    if transition.name == "reopen":
        issue.sla_cycle += 1
        issue.save(update_fields=["sla_cycle"])
        _open_cycle(issue, number=issue.sla_cycle, at=now, actor=actor, responded=True)
        return
    StatusPeriod.objects.create(
        issue=issue, cycle=issue.sla_cycle, status=issue.status, entered_at=now
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
        due = cycle.response_due_at
        cycle.response_outcome = (
            CycleOutcome.MET if due is None or now <= due else CycleOutcome.MISSED
        )
        # For the reports app (MTTA): business time on the clock until the response.
        cycle.response_seconds = int(
            sla.derive_clock(sla.cycle_events(issue, n))
            .consumed(cycle.policy.calendar_for(issue.severity), now)
            .total_seconds()
        )
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
    moved = new_resolution != cycle.resolution_minutes or business != cycle.business_hours
    if cycle.response_minutes is not None and cycle.responded_at is None:
        moved = moved or policy.response_target(severity) != cycle.response_minutes
    return moved


def _retarget(issue: Issue, cycle: SlaCycle, policy: SlaPolicy, *, actor, reason: str) -> bool:
    """Point the running cycle at `policy`'s targets for the issue's current fields."""
    old = (cycle.policy_id, cycle.response_minutes, cycle.resolution_minutes, cycle.business_hours)
    response, resolution = _targets(policy, issue)
    cycle.policy = policy
    if cycle.responded_at is None and cycle.response_minutes is not None:
        cycle.response_minutes = response
    cycle.resolution_minutes = resolution
    cycle.business_hours = issue.severity in [int(s) for s in policy.business_severities]
    new = (cycle.policy_id, cycle.response_minutes, cycle.resolution_minutes, cycle.business_hours)
    if old == new:
        return False
    cycle.save(update_fields=["policy", "response_minutes", "resolution_minutes", "business_hours"])
    old_due = issue.resolution_due_at
    _ledger(
        issue,
        cycle.number,
        ClockEventKind.TARGET_CHANGED,
        at=timezone.now(),
        actor=actor,
        reason=reason[:200],
        data={"resolution_minutes": [old[2], resolution], "policy_version": policy.version},
    )
    sla.refresh_deadlines(issue, cycle)
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


def recompute_sla(issue: Issue, *, actor, reason: str) -> None:
    """After a priority/severity change: new targets for the running cycle, an audit record."""
    with transaction.atomic():
        locked = Issue.objects.select_for_update().select_related("project").get(pk=issue.pk)
        cycle = _current_cycle(locked)
        if not locked.is_open or cycle is None or cycle.stopped_at is not None:
            return
        _retarget(locked, cycle, cycle.policy, actor=actor, reason=reason)
    _copy_back(issue, locked)


def _may_hold(issue: Issue, actor) -> None:
    role = role_in_project(actor, issue.project)
    if not (actor.is_superuser or role == Role.MANAGER or issue.owner_id == actor.pk):
        raise TransitionForbidden(f"Only the owner or a Manager may hold the clock of {issue.key}.")


def hold_sla_clock(issue: Issue, *, actor, reason: str, note: str = "") -> None:
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
    _copy_back(issue, locked)


def release_sla_hold(issue: Issue, *, actor) -> None:
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
    _copy_back(issue, locked)


# --- project settings ----------------------------------------------------------------------
def _require_manager(project: Project, actor) -> None:
    if not (actor.is_superuser or role_in_project(actor, project) == Role.MANAGER):
        raise TransitionForbidden("Only a Manager of the project may change its workflow.")


def set_transition_actors(
    project: Project, *, actor, transition: str, actors: list[str]
) -> TransitionRule | None:
    """Override who may take a transition in this project (statuses stay as they are).

    Setting the table's default removes the override."""
    _require_manager(project, actor)
    if transition not in BY_NAME:
        raise WorkflowError(f"There is no transition “{transition}”.")
    chosen = sorted(set(actors))
    if any(a not in Actor.values for a in chosen):
        raise WorkflowError("Unknown role.", field=transition)
    if not chosen:
        raise WorkflowError("At least one role must be able to take it.", field=transition)
    with transaction.atomic():
        if frozenset(chosen) == BY_NAME[transition].actors:
            TransitionRule.objects.filter(project=project, transition=transition).delete()
            return None
        rule, _ = TransitionRule.objects.update_or_create(
            project=project,
            transition=transition,
            defaults={"actors": chosen, "updated_by": actor},
        )
    return rule


def apply_sla_policy(project: Project, *, actor, draft: SlaPolicy, note: str) -> SlaPolicy:
    """Save `draft` as the project's next policy version and retarget every open issue's
    running cycle to it (finished cycles keep their policy and outcome). Each moved issue
    gets an SLA audit record saying why."""
    _require_manager(project, actor)
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
        open_ids = list(
            Issue.objects.filter(project=project, status__in=_open_values()).values_list(
                "pk", flat=True
            )
        )
        for pk in open_ids:
            issue = Issue.objects.select_for_update().select_related("project").get(pk=pk)
            cycle = _current_cycle(issue)
            if cycle is None or cycle.stopped_at is not None:
                continue
            _retarget(issue, cycle, draft, actor=actor, reason=reason)
    return draft


def _open_values() -> list[str]:
    from issues.models import OPEN_STATUSES

    return [str(s) for s in OPEN_STATUSES]
