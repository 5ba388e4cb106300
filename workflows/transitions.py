"""The lifecycle: one declarative transition table read by the service, the buttons, the
settings page, the admin and the README (`manage.py workflow_table`).

A project's Manager may change who takes each transition (`TransitionRule`), never the
statuses, the required fields or the four-eyes rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import models

from accounts import actors
from issues.models import Issue, Status
from projects.models import Role
from projects.selectors import OWNER_ROLES_TEXT


class Actor(models.TextChoices):
    """Who may take a transition: a project role, or a relation to the issue."""

    MANAGER = "manager", "Manager"
    DEVELOPER = "developer", "Developer"
    TESTER = "tester", "Tester"
    REPORTER = "reporter", "Reporter (role)"
    OWNER = "owner", "Owner of the issue"
    ISSUE_REPORTER = "issue_reporter", "Reporter of the issue"


class Need(models.TextChoices):
    """When a field of a transition must be filled in."""

    ALWAYS = "always", "required"
    MAJOR = "major", "required for Major and Critical"
    DUPLICATE = "duplicate", "required for duplicates"
    UNOWNED = "unowned", "required when the issue has no owner"
    OPTIONAL = "optional", "optional"


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    need: str = Need.ALWAYS


@dataclass(frozen=True)
class Transition:
    name: str
    label: str
    sources: tuple[str, ...]
    target: str
    actors: frozenset[str]
    fields: tuple[Field, ...] = ()
    # Four eyes: the owner may not verify their own fix.
    owner_excluded: bool = False
    style: str = "outline-primary"
    # A new SLA cycle starts (the issue comes back after Fixed/Closed).
    new_cycle: bool = False
    # Taken only by Resolve itself (SYSTEM_TRANSITIONS): never a button, never a role.
    system: bool = False

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def source_labels(self) -> str:
        return ", ".join(Status(s).label for s in self.sources)

    @property
    def target_label(self) -> str:
        return Status(self.target).label


OWNER_FIELD = Field("owner", f"Owner ({OWNER_ROLES_TEXT} of the project)")

TRANSITIONS: tuple[Transition, ...] = (
    Transition(
        "assign",
        "Assign",
        (Status.NEW,),
        Status.ASSIGNED,
        frozenset({Actor.MANAGER, Actor.DEVELOPER}),
        (OWNER_FIELD,),
        style="primary",
    ),
    Transition(
        "unassign",
        "Back to New",
        (Status.ASSIGNED,),
        Status.NEW,
        frozenset({Actor.OWNER, Actor.MANAGER}),
        (Field("reason", "Reason"),),
    ),
    Transition(
        "start",
        "Start work",
        (Status.ASSIGNED,),
        Status.REVISE,
        frozenset({Actor.OWNER, Actor.MANAGER}),
        style="primary",
    ),
    Transition(
        "submit",
        "Send to retest",
        (Status.REVISE,),
        Status.RETEST,
        frozenset({Actor.OWNER}),
        (Field("fix_summary", "Fix summary"),),
        style="primary",
    ),
    Transition(
        "fail",
        "Fail retest",
        (Status.RETEST,),
        Status.REVISE,
        frozenset({Actor.TESTER, Actor.MANAGER}),
        (Field("failure", "What failed"),),
        style="outline-danger",
    ),
    Transition(
        "verify",
        "Verify fix",
        (Status.RETEST,),
        Status.FIXED,
        frozenset({Actor.TESTER, Actor.MANAGER}),
        owner_excluded=True,
        style="success",
    ),
    Transition(
        "close",
        "Close",
        (Status.FIXED,),
        Status.CLOSED,
        frozenset({Actor.MANAGER, Actor.ISSUE_REPORTER}),
        (
            Field("resolution_summary", "Resolution summary"),
            Field("root_cause", "Root-cause category", Need.MAJOR),
            Field("lessons_learned", "Lessons learned", Need.MAJOR),
        ),
        style="success",
    ),
    Transition(
        "reopen",
        "Reopen",
        (Status.CLOSED,),
        Status.ASSIGNED,
        frozenset({Actor.MANAGER, Actor.ISSUE_REPORTER, Actor.TESTER}),
        (Field("reopen_reason", "Reopen reason"), Field("owner", "Owner", Need.UNOWNED)),
        style="warning",  # dark text on amber: outline amber fails 4.5:1 contrast
        new_cycle=True,
    ),
    Transition(
        "dismiss",
        "Close without fix",
        (Status.NEW, Status.ASSIGNED, Status.REVISE),
        Status.CLOSED,
        frozenset({Actor.MANAGER}),
        (
            Field("resolution", "Resolution (duplicate, won't fix, cannot reproduce, invalid)"),
            Field("duplicate_of", "Original issue", Need.DUPLICATE),
            Field("resolution_summary", "Note", Need.OPTIONAL),
        ),
        style="outline-secondary",
    ),
)

# Rows only Resolve itself takes (`workflows.services.take_system_transition`): no button,
# no role can take them, a project cannot override them; the audit record has actor None.
SYSTEM_TRANSITIONS: tuple[Transition, ...] = (
    Transition(
        "auto_assign",
        "Assigned by a rule",
        (Status.NEW,),
        Status.ASSIGNED,
        frozenset(),
        (OWNER_FIELD, Field("reason", "Which rule chose whom")),
        system=True,
    ),
    Transition(
        "regress",
        "Reopened by a regression",
        (Status.FIXED, Status.CLOSED),
        Status.ASSIGNED,
        frozenset(),
        (Field("reopen_reason", "Reopen reason"),),
        new_cycle=True,
        system=True,
    ),
)

BY_NAME: dict[str, Transition] = {t.name: t for t in TRANSITIONS}
SYSTEM_BY_NAME: dict[str, Transition] = {t.name: t for t in SYSTEM_TRANSITIONS}


def find_transition(source: str, target: str) -> Transition | None:
    """The people's transition from `source` to `target` (at most one: the table is keyed by
    both; system rows are never found here)."""
    return next((t for t in TRANSITIONS if source in t.sources and t.target == target), None)


def transitions_from(source: str) -> list[Transition]:
    return [t for t in TRANSITIONS if source in t.sources]


def actors_text(actors: Iterable[str]) -> str:
    order = [a.value for a in Actor]
    return ", ".join(Actor(a).label for a in sorted(actors, key=order.index))


def _fields_text(t: Transition) -> str:
    if not t.fields:
        return "—"
    return "; ".join(
        f.label if f.need == Need.ALWAYS else f"{f.label} ({Need(f.need).label})" for f in t.fields
    )


def markdown_table() -> str:
    """The transition table as Markdown (README, `manage.py workflow_table`)."""
    lines = [
        "| from | to | button | who (default) | required |",
        "|---|---|---|---|---|",
    ]
    for t in TRANSITIONS:
        who = actors_text(t.actors) + (" — not the owner" if t.owner_excluded else "")
        lines.append(
            f"| {t.source_labels} | {t.target_label} | {t.label} | {who} | {_fields_text(t)} |"
        )
    return "\n".join(lines)


def mermaid_diagram() -> str:
    lines = ["stateDiagram-v2", "    [*] --> New"]
    for t in TRANSITIONS:
        for s in t.sources:
            lines.append(f"    {Status(s).label} --> {t.target_label}: {t.label}")
    return "\n".join(lines)


def may_take(
    transition: Transition,
    issue: Issue,
    user: actors.Actor,
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
