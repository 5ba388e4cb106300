"""Who may hear about what: the escalation ladder and preferences, in bulk; the access rule is
the pages' (`projects.selectors.visible_pairs`).

Every function here works on many issues at once with a fixed number of queries, so the SLA
sweep and the outbox stay set-based (no query per issue).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings

from issues.models import Issue
from projects.models import Membership, Role

from .models import (
    ALWAYS_IMMEDIATE,
    DEFAULT_MODES,
    EscalationLadder,
    Kind,
    Mode,
    NotificationPreference,
    Step,
)


@dataclass(frozen=True)
class Ladder:
    warn_owner: bool = True
    breach_owner: bool = True
    breach_team_lead: bool = True
    escalate_after: timedelta = timedelta(minutes=120)


def default_ladder() -> Ladder:
    return Ladder(escalate_after=timedelta(minutes=settings.SLA_ESCALATE_AFTER_MINUTES))


def ladders_for(project_ids: Iterable[int]) -> dict[int, Ladder]:
    """The ladder of each project (the default where none was configured)."""
    project_ids = set(project_ids)
    found = {
        row.project_id: Ladder(
            warn_owner=row.warn_owner,
            breach_owner=row.breach_owner,
            breach_team_lead=row.breach_team_lead,
            escalate_after=row.escalate_after,
        )
        for row in EscalationLadder.objects.filter(project_id__in=project_ids)
    }
    default = default_ladder()
    return {pid: found.get(pid, default) for pid in project_ids}


def team_lead_id(issue: Issue) -> int | None:
    """The issue's team lead; the project lead when the issue has no team (or it has no lead)."""
    if issue.team_id is not None and issue.team is not None and issue.team.lead_id is not None:
        return issue.team.lead_id
    return issue.project.lead_id


def ladder_recipients(issue: Issue, step: str, ladder: Ladder) -> list[int]:
    """User ids the ladder names for one rung (Managers are resolved separately)."""
    lead = team_lead_id(issue)
    ids: list[int | None] = []
    if step == Step.WARNING:
        if ladder.warn_owner:
            ids.append(issue.owner_id if issue.owner_id is not None else lead)
    elif step == Step.BREACH:
        if ladder.breach_owner:
            ids.append(issue.owner_id if issue.owner_id is not None else lead)
        if ladder.breach_team_lead:
            ids.append(lead)
    return list(dict.fromkeys(i for i in ids if i is not None))


def managers_of(project_ids: Iterable[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {pid: [] for pid in set(project_ids)}
    rows = Membership.objects.filter(
        project_id__in=out.keys(), role=Role.MANAGER, user__is_active=True
    ).values_list("project_id", "user_id")
    for project_id, user_id in rows:
        out[project_id].append(user_id)
    return out


def modes_for(user_ids: Iterable[int], kinds: Iterable[str]) -> dict[tuple[int, str], str]:
    """Each (user, kind)'s delivery mode: forced kinds are immediate, else the preference."""
    user_ids, kinds = set(user_ids), set(kinds)
    chosen = {
        (p.user_id, p.kind): p.mode
        for p in NotificationPreference.objects.filter(user_id__in=user_ids, kind__in=kinds)
    }
    return {(u, k): mode_of(k, chosen.get((u, k))) for u in user_ids for k in kinds}


def mode_of(kind: str, chosen: str | None) -> str:
    if kind in ALWAYS_IMMEDIATE:
        return Mode.IMMEDIATE
    return chosen or DEFAULT_MODES.get(Kind(kind), Mode.IMMEDIATE)
