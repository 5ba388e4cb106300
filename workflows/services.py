"""Status changes and SLA clocks. The workflows app owns every status change.

Contract used by other apps:
- `start_sla_clock(issue, *, actor)`: called by `issues.services.create_issue`.
- `sla_change_needs_reason(issue, *, priority, severity) -> bool`: the edit form asks for a
  reason when a priority/severity change would move a deadline.
- `recompute_sla(issue, *, actor, reason)`: called after priority/severity changes.
- `transition_issue(issue, to, *, actor, **data)`: the one way to change `Issue.status`.
- `take_system_transition(issue, name, *, audit, **data)`: Resolve's own rows of the table
  (`SYSTEM_TRANSITIONS`: auto-assignment, regression reopen), actor None.
- `reopen_for_regression(issue, *, reason)`: Fixed/Closed -> Assigned for a monitoring event.
- `hold_sla_clock` / `release_sla_hold`: put an issue's clock on hold with a typed reason.
- `apply_sla_policy(project, *, actor, draft, note)`: a new policy version for open issues.
- `set_transition_actors(project, *, actor, transition, actors)`: per-project role override.

The transition rules live here; the SLA clock services in `clock.py` (re-exported here), the
arithmetic in `sla.py` and `businesstime.py`, the table in `transitions.py`.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.actors import Actor
from customfields.selectors import missing_for_transition
from issues.inputs import parse_id
from issues.limits import REASON_MAX_CHARS
from issues.models import EventKind, Issue, IssueEvent, Resolution, Severity, Status
from issues.selectors import issues_visible_to, parse_issue_key
from issues.services import record_event, watch_automatically
from playbooks.selectors import playbook_refusal
from playbooks.services import copy_playbook
from projects.models import Project
from projects.selectors import eligible_owners, may_own, owner_refusal, role_in_project

from . import transitions
from .activity import transition_reasons
from .clock import (
    copy_saved_fields,
    current_policy,
    hold_sla_clock,
    move_clock_on_transition,
    recompute_sla,
    release_sla_hold,
    sla_change_needs_reason,
    start_sla_clock,
)
from .errors import StaleTransition, TransitionForbidden, WorkflowError
from .models import RootCause, TransitionRule
from .policy_changes import apply_sla_policy, require_manager
from .transitions import (
    BY_NAME,
    SYSTEM_BY_NAME,
    Need,
    Transition,
    actors_text,
    find_transition,
    may_take,
)

__all__ = [
    "StaleTransition",
    "TransitionForbidden",
    "WorkflowError",
    "apply_sla_policy",
    "current_policy",
    "hold_sla_clock",
    "recompute_sla",
    "release_sla_hold",
    "set_transition_actors",
    "set_transition_overrides",
    "sla_change_needs_reason",
    "reopen_for_regression",
    "start_sla_clock",
    "take_system_transition",
    "transition_issue",
]


DISMISS_RESOLUTIONS = (
    Resolution.DUPLICATE,
    Resolution.WONT_FIX,
    Resolution.CANNOT_REPRODUCE,
    Resolution.INVALID,
)
TEXT_LIMIT = REASON_MAX_CHARS


# --- who may ------------------------------------------------------------------------------
def transition_actors(project: Project, transition: Transition) -> frozenset[str]:
    """Who may take the transition in this project: its override, or the table's default."""
    rule = TransitionRule.objects.filter(project=project, transition=transition.name).first()
    return frozenset(rule.actors) if rule else transition.actors


def _check_may_take(transition: Transition, issue: Issue, actor: Actor | None) -> None:
    actors = transition_actors(issue.project, transition)
    if actor is not None:
        role = role_in_project(actor, issue.project)
        if may_take(transition, issue, actor, role=role, actors=actors):
            return
    if transition.owner_excluded and actor is not None and issue.owner_id == actor.pk:
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
        raise WorkflowError(f"Keep this under {TEXT_LIMIT:,} characters.", field=name)
    return text


def _eligible_owner(project: Project, value: Any) -> Actor:
    user_id = parse_id(getattr(value, "pk", value))
    if user_id is None:
        raise WorkflowError("Choose an owner.", field="owner")
    owner = eligible_owners(project).filter(pk=user_id).first()
    if owner is None:
        raise WorkflowError(owner_refusal(project), field="owner")
    return owner


def _original(issue: Issue, value: Any, *, actor: Actor | None) -> Issue:
    """The original of a duplicate: an issue of the same project that `actor` may see (through
    the access selector), never the issue itself."""
    if isinstance(value, Issue):
        value = value.key
    parsed = parse_issue_key(str(value or "").strip())
    original = None
    if parsed and parsed[0] == issue.project.key and actor is not None:
        original = issues_visible_to(actor).filter(project=issue.project, number=parsed[1]).first()
    if original is None:
        raise WorkflowError(
            f"Name the original issue of {issue.project.key}, e.g. {issue.project.key}-1.",
            field="duplicate_of",
        )
    if original.pk == issue.pk:
        raise WorkflowError("An issue cannot duplicate itself.", field="duplicate_of")
    return original


def clean_transition_data(
    transition: Transition, issue: Issue, data: dict, *, actor: Actor | None = None
) -> dict[str, Any]:
    """The transition's fields, checked against the table; raises WorkflowError per field."""
    cleaned: dict[str, Any] = {}
    for f in transition.fields:
        if f.name == "owner":
            raw = data.get("owner")
            if raw in (None, ""):
                if f.need == Need.ALWAYS or issue.owner_id is None:
                    raise WorkflowError("Choose an owner.", field="owner")
                continue
            cleaned["owner"] = _eligible_owner(issue.project, raw)
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
                cleaned["duplicate_of"] = _original(issue, data.get("duplicate_of"), actor=actor)
        else:
            cleaned[f.name] = _text(data, f.name)
        required = f.need == Need.ALWAYS or (
            f.need == Need.MAJOR and issue.severity >= Severity.MAJOR
        )
        if required and f.name not in ("owner", "resolution") and not cleaned.get(f.name):
            suffix = " for Major and Critical issues" if f.need == Need.MAJOR else ""
            raise WorkflowError(f"{f.label} is required{suffix}.", field=f.name)
    # The project's custom fields required from this status on (Resolve's own rows, such as
    # an intake rule's assignment, cannot fill in a person's facts: they are not held back).
    if not transition.system:
        missing = missing_for_transition(issue, transition.target)
        if missing:
            names = ", ".join(f"“{f.name}”" for f in missing)
            raise WorkflowError(
                f"{names} {'is' if len(missing) == 1 else 'are'} required before "
                f"{Status(transition.target).label}: fill {'it' if len(missing) == 1 else 'them'}"
                f" in on the issue's edit page first."
            )
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
    issue: Issue, to: str, *, actor: Actor, expected_status: str | None = None, **data: Any
) -> Issue:
    """Move `issue` to status `to` as `actor`; the one way to change a status.

    Steps: find the row of the table -> lock the issue row -> refuse when it is no longer in
    the expected status (stale), when `actor` may not take it, or when a required field is
    missing -> save status, owner and closure fields -> record TRANSITIONED (and CHANGED
    owner) -> stage periods -> the SLA clock (respond, pause/resume, stop, new cycle).
    Returns the saved issue; the passed instance is updated too.
    """
    if to not in Status.values:
        raise WorkflowError(f"There is no status “{to}”.")
    return _take(issue, None, to, actor=actor, expected_status=expected_status, data=data)


def take_system_transition(
    issue: Issue,
    name: str,
    *,
    expected_status: str | None = None,
    audit: dict[str, Any] | None = None,
    **data: Any,
) -> Issue:
    """Take a row of `SYSTEM_TRANSITIONS` as Resolve itself (actor None): same locking,
    required fields, audit record (TRANSITIONED, plus `audit` in its data), notification and
    SLA clock as `transition_issue`; no role check (no person takes these rows)."""
    transition = SYSTEM_BY_NAME.get(name)
    if transition is None:
        raise WorkflowError(f"There is no system transition “{name}”.")
    return _take(
        issue,
        transition,
        transition.target,
        actor=None,
        expected_status=expected_status,
        data=data,
        audit=audit,
    )


def reopen_for_regression(issue: Issue, *, reason: str) -> Issue:
    """A monitoring event for a Fixed or Closed issue: back to Assigned with its owner, a new
    SLA cycle and an audit record by the system. Refused (WorkflowError) when the issue has no
    owner or its owner can no longer take work (the caller files a new issue instead)."""
    owner = issue.owner
    if owner is None:
        raise WorkflowError(f"{issue.key} has no owner to reopen it for.", field="owner")
    if not may_own(owner, issue.project):
        raise WorkflowError(
            f"{issue.key}'s owner may no longer own its issues ({owner_refusal(issue.project)})",
            field="owner",
        )
    # owner_id in the audit data: the owner is told it is theirs again (notifications).
    return take_system_transition(
        issue, "regress", reopen_reason=reason, audit={"regression": True, "owner_id": owner.pk}
    )


def _take(
    issue: Issue,
    system: Transition | None,
    to: str,
    *,
    actor: Actor | None,
    expected_status: str | None,
    data: dict[str, Any],
    audit: dict[str, Any] | None = None,
) -> Issue:
    expected = expected_status or issue.status
    with transaction.atomic():
        locked = Issue.objects.select_for_update().select_related("project").get(pk=issue.pk)
        if locked.status != expected:
            raise StaleTransition(_stale_message(locked))
        if system is not None:
            if locked.status not in system.sources:
                raise WorkflowError(
                    f"{locked.key} is {Status(locked.status).label}: “{system.label}” "
                    f"starts from {system.source_labels}."
                )
            transition = system
        else:
            found = find_transition(locked.status, to)
            if found is None:
                raise WorkflowError(
                    f"{locked.key} cannot go from {Status(locked.status).label} "
                    f"to {Status(to).label}."
                )
            transition = found
            _check_may_take(transition, locked, actor)
        cleaned = clean_transition_data(transition, locked, data, actor=actor)
        # The same guard as the required fields: a playbook to complete before this status.
        refusal = playbook_refusal(locked, to)
        if refusal is not None:
            raise WorkflowError(refusal, field="playbook")
        now = timezone.now()
        old_status = locked.status
        old_owner_id = locked.owner_id
        # Only the rows that set or clear the owner need the old owner's name.
        may_change_owner = transition.name in ("assign", "auto_assign", "reopen", "unassign")
        old_owner = locked.owner if old_owner_id is not None and may_change_owner else None
        fields = _apply(transition, locked, cleaned)
        locked.status = to
        locked.version += 1
        locked._transitioning = True  # type: ignore[attr-defined]
        try:
            locked.save(update_fields=[*fields, "status", "version", "updated_at"])
        finally:
            locked._transitioning = False  # type: ignore[attr-defined]
        event_data = {**_event_data(transition, cleaned, locked), **(audit or {})}
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
                # Names as shown at the time (the ids are in the data).
                old=str(old_owner) if old_owner is not None else "",
                new=str(locked.owner) if locked.owner is not None else "",
                # The TRANSITIONED record above already tells the new owner (it carries
                # owner_id); this one is the field's audit entry, not a second notification.
                data={
                    "owner_id": locked.owner_id,
                    "old_owner_id": old_owner_id,
                    "with_transition": True,
                    **(audit or {}),
                },
            )
        # The owner hears when a retest fails, and whoever sent it to retest hears the verdict:
        # both watch from now on (the "who is notified" panel says so).
        if locked.owner is not None and locked.owner_id != old_owner_id:
            watch_automatically(locked, locked.owner, actor=actor)
        if to == Status.RETEST and actor is not None:
            watch_automatically(locked, actor, actor=actor)
        move_clock_on_transition(locked, transition, old_status, actor=actor, now=now)
        if to == Status.ASSIGNED:
            # The template's playbook becomes the issue's checklist (once; playbooks.services).
            copy_playbook(locked, actor=actor)
    copy_saved_fields(issue, locked)
    return locked


def _apply(transition: Transition, issue: Issue, cleaned: dict) -> list[str]:
    """Set the owner and closure fields the transition carries; the changed field names."""
    if transition.name in ("assign", "auto_assign") or (
        transition.name == "reopen" and "owner" in cleaned
    ):
        issue.owner = cleaned["owner"]
        return ["owner"] + (["resolution"] if transition.name == "reopen" else [])
    if transition.name in ("reopen", "regress"):
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
    # The why, with the labels of the form it was typed into (the activity entry and the
    # e-mails show it; workflows.activity reads older events without it too).
    data: dict[str, Any] = {
        "transition": transition.name,
        "reasons": transition_reasons(transition.name, cleaned),
    }
    for name, value in cleaned.items():
        if name == "owner":
            data["owner_id"] = value.pk
        elif name == "duplicate_of":
            data["duplicate_of"] = value.key
            data["duplicate_of_id"] = value.pk
        else:
            data[name] = value
    if transition.name in ("assign", "auto_assign"):
        data["owner_id"] = issue.owner_id
    if "owner" in cleaned:
        data["owner_name"] = str(cleaned["owner"])
    return data


# --- project settings ----------------------------------------------------------------------
def set_transition_actors(
    project: Project, *, actor: Actor, transition: str, actors: list[str]
) -> TransitionRule | None:
    """Override who may take a transition in this project (statuses stay as they are).

    Setting the table's default removes the override."""
    require_manager(project, actor)
    if transition not in BY_NAME:
        raise WorkflowError(f"There is no transition “{transition}”.")
    chosen = sorted(set(actors))
    if any(a not in transitions.Actor.values for a in chosen):
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


def set_transition_overrides(
    project: Project, *, actor: Actor, actors: dict[str, list[str]]
) -> None:
    """The settings page: who may take each transition, all rows at once (or none)."""
    with transaction.atomic():
        for name, chosen in actors.items():
            set_transition_actors(project, actor=actor, transition=name, actors=chosen)
