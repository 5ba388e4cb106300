"""Workflow reads: the transitions a user may take, a project's developers and policy, the
stage durations of an issue's cycles."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from accounts.actors import Viewer
from accounts.compiled import CompiledRead
from issues.models import Issue, Status
from projects.models import Project
from projects.selectors import eligible_owners, role_in_project

from ..businesstime import (
    ZERO,
)
from ..models import SlaCycle, SlaPolicy, StatusPeriod, TransitionRule
from ..services import may_take
from ..transitions import Transition, transitions_from

_transition_rules: CompiledRead[Any] = CompiledRead(
    lambda project_id: TransitionRule.objects.filter(project_id=project_id)
)
_status_periods: CompiledRead[Any] = CompiledRead(
    lambda issue_id: StatusPeriod.objects.filter(issue_id=issue_id)
)


def transition_overrides(project: Project) -> dict[str, frozenset[str]]:
    return {r.transition: frozenset(r.actors) for r in _transition_rules.rows(project.pk)}


_UNKNOWN = object()


def available_transitions(issue: Issue, user: Viewer, *, role: Any = _UNKNOWN) -> list[Transition]:
    """The transitions `user` may take on `issue` now (what the buttons show); `role` is the
    user's role in the project when the caller already knows it."""

    if not user.is_authenticated:
        return []
    overrides = transition_overrides(issue.project)
    if role is _UNKNOWN:
        role = role_in_project(user, issue.project)
    return [
        t
        for t in transitions_from(issue.status)
        if may_take(t, issue, user, role=role, actors=overrides.get(t.name, t.actors))
    ]


def developers_of(project: Project) -> QuerySet:
    """Who the Assign and Reopen forms offer as owner (projects.selectors.eligible_owners)."""
    return eligible_owners(project)


def policy_of(project: Project) -> SlaPolicy:
    """The project's current policy (an unsaved default when it has none yet)."""
    policy = SlaPolicy.objects.filter(project=project).order_by("-version").first()
    return policy or SlaPolicy(project=project, version=0)


STAGE_ORDER = [s.value for s in Status]


@dataclass
class CycleStages:
    number: int
    stages: list[tuple[str, timedelta]]
    total: timedelta
    outcome: str = ""


def cycles_prefetch() -> Prefetch:
    """Prefetch an issue's SLA cycles (with their policy) once for the SLA box and the stage
    durations: `prefetch_related_objects([issue], cycles_prefetch())`."""

    return Prefetch("sla_cycles", queryset=SlaCycle.objects.select_related("policy"))


_cycles_of_issue: CompiledRead[Any] = CompiledRead(
    lambda issue_id: SlaCycle.objects.filter(issue_id=issue_id).select_related("policy")
)


def set_cycles(issue: Issue) -> None:
    """What `prefetch_related_objects([issue], cycles_prefetch())` leaves on the issue (its
    cycles with their policy, the issue set on each), read by a statement compiled once."""
    cycles = _cycles_of_issue.rows(issue.pk)
    for cycle in cycles:
        _CYCLE_ISSUE.set_cached_value(cycle, issue)
    queryset = issue.sla_cycles.all()
    queryset._result_cache = cycles
    queryset._prefetch_done = True  # type: ignore[attr-defined]
    issue.__dict__.setdefault("_prefetched_objects_cache", {})["sla_cycles"] = queryset


_CYCLE_ISSUE = SlaCycle._meta.get_field("issue")


def cycles_of(issue: Issue) -> list:
    """The issue's SLA cycles with their policy: the prefetched ones when the page did so."""

    prefetched = getattr(issue, "_prefetched_objects_cache", {}).get("sla_cycles")
    if prefetched is not None:
        return list(prefetched)
    return list(SlaCycle.objects.filter(issue=issue).select_related("policy"))


def stage_durations(issue: Issue, now: datetime | None = None) -> list[CycleStages]:
    """Time spent in each status, per SLA cycle (the current stay counts up to now)."""

    now = now or timezone.now()
    per_cycle: dict[int, dict[str, timedelta]] = {}
    for p in _status_periods.rows(issue.pk):
        spent = (p.left_at or now) - p.entered_at
        stages = per_cycle.setdefault(p.cycle, {})
        stages[p.status] = stages.get(p.status, ZERO) + spent
    outcomes = {c.number: c.outcome for c in cycles_of(issue)}
    return [
        CycleStages(
            number=n,
            stages=[(Status(s).label, stages[s]) for s in sorted(stages, key=STAGE_ORDER.index)],
            total=sum(stages.values(), ZERO),
            outcome=outcomes.get(n, ""),
        )
        for n, stages in sorted(per_cycle.items())
    ]
