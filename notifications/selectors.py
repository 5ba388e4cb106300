"""Notification reads: the inbox, the unread count, preferences and the who-is-notified preview."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from accounts.actors import Actor, Viewer
from accounts.compiled import CompiledRead
from issues.models import Issue
from projects.models import Project
from projects.selectors import (
    member_projects,
    projects_visible_to,
    sees_every_project,
    visible_pairs,
)

from . import recipients as rcpt
from .models import (
    ALWAYS_IMMEDIATE,
    MODES_FOR_KIND,
    SLA_SWEEP_JOB,
    Kind,
    Mode,
    Notification,
    Step,
    SweepHeartbeat,
)


def inbox_for(user: Actor) -> QuerySet[Notification]:
    """The user's notifications, newest first, about issues they may still see."""
    return _inbox(user.pk, projects_visible_to(user)).select_related("issue__project")


def _inbox(user_id: int, projects: QuerySet[Project]) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient_id=user_id).filter(
        Q(issue__isnull=True) | Q(issue__project__in=projects)
    )


# The bell's count is on every page: its statement is compiled once (staff see every project).
_UNREAD: dict[bool, CompiledRead[Any]] = {
    every: CompiledRead(
        lambda pk, every=every: (
            _inbox(pk, Project.objects.all() if every else member_projects(pk))
            .filter(read_at__isnull=True)
            .order_by()
            .values("pk")
        )
    )
    for every in (False, True)
}


def unread_count(user: Actor) -> int:
    if not user.is_authenticated:
        return 0
    return _UNREAD[sees_every_project(user)].count(user.pk)


@dataclass
class PreferenceRow:
    kind: str
    label: str
    mode: str
    choices: list[tuple[str, str]]
    forced: bool


def preference_rows(user: Actor) -> list[PreferenceRow]:
    modes = rcpt.modes_for([user.pk], Kind.values)
    rows = []
    for kind in Kind:
        allowed = MODES_FOR_KIND.get(kind, list(Mode))
        rows.append(
            PreferenceRow(
                kind=kind.value,
                label=str(kind.label),
                mode=modes[(user.pk, kind.value)],
                choices=[(m.value, str(m.label)) for m in allowed],
                forced=kind in ALWAYS_IMMEDIATE,
            )
        )
    return rows


@dataclass
class Recipient:
    user: object
    channel: str


@dataclass
class PreviewRow:
    event: str
    recipients: list[Recipient] = field(default_factory=list)
    note: str = ""


def _channel(mode: str, has_email: bool) -> str:
    if mode in (Mode.IMMEDIATE, Mode.DIGEST) and not has_email:
        return "inbox only (no email address)"
    return {
        Mode.IMMEDIATE: "email now + inbox",
        Mode.DIGEST: "digest email + inbox",
        Mode.INBOX: "inbox only",
        Mode.OFF: "off",
    }[Mode(mode)]


def who_is_notified(issue: Issue, *, viewer: Viewer) -> list[PreviewRow]:
    """Who would hear about each kind of change to this issue, and through which channel.

    The same rules as the outbox and the SLA sweep (`notifications.recipients`), so the
    preview cannot drift from what is sent. The viewer is left out of the events they
    would cause themselves.
    """
    ladder = rcpt.ladders_for([issue.project_id])[issue.project_id]
    watcher_ids = set(issue.watchers.values_list("id", flat=True))
    warning = rcpt.ladder_recipients(issue, Step.WARNING, ladder)
    breach = rcpt.ladder_recipients(issue, Step.BREACH, ladder)
    managers = rcpt.managers_of([issue.project_id])[issue.project_id]
    everyone = watcher_ids | set(warning) | set(breach) | set(managers)
    candidates = {
        u.pk: u for u in get_user_model().objects.filter(pk__in=[u for u in everyone if u])
    }
    visible = {
        u
        for u, _ in visible_pairs(
            ((u, issue.project_id) for u in candidates), users=candidates.values()
        )
    }
    users = {pk: u for pk, u in candidates.items() if pk in visible}
    modes = rcpt.modes_for(visible, Kind.values)

    def listed(ids: Iterable[int], kind: str, *, skip_viewer: bool) -> list[Recipient]:
        out = []
        for uid in sorted(ids, key=lambda i: str(users.get(i, ""))):
            if uid not in users or (skip_viewer and uid == viewer.pk):
                continue
            mode = modes[(uid, kind)]
            if mode != Mode.OFF:
                out.append(Recipient(users[uid], _channel(mode, bool(users[uid].email))))
        return out

    hours = ladder.escalate_after.total_seconds() / 3600
    return [
        PreviewRow(
            "Status change",
            listed(watcher_ids, Kind.STATUS_CHANGED, skip_viewer=True),
            "Watchers, except whoever makes the change. The owner and whoever sends it to "
            "retest become watchers automatically.",
        ),
        PreviewRow(
            "New comment",
            listed(watcher_ids, Kind.COMMENTED, skip_viewer=True),
            "Watchers; anyone @mentioned gets an email now.",
        ),
        PreviewRow(
            "Assignment",
            [],
            "The new owner, by email now (unless they assign themselves); they then watch the issue.",
        ),
        PreviewRow(
            "SLA at risk",
            listed(warning, Kind.SLA_AT_RISK, skip_viewer=False),
            "The owner (the team lead while unassigned)." if ladder.warn_owner else "Turned off.",
        ),
        PreviewRow(
            "SLA breached",
            listed(breach or managers, Kind.SLA_BREACHED, skip_viewer=False),
            "Always by email now.",
        ),
        PreviewRow(
            f"Still breached after {hours:g} h",
            listed(managers, Kind.SLA_ESCALATED, skip_viewer=False),
            "The project's Managers, always (cannot be turned off).",
        ),
    ]


@dataclass
class SweepStatus:
    """When the SLA sweep last finished, and whether that is too long ago for alerts to be trusted."""

    finished_at: datetime | None
    age_seconds: int | None
    stale: bool


def sla_sweep_status(now: datetime) -> SweepStatus:
    beat = SweepHeartbeat.objects.filter(job=SLA_SWEEP_JOB).first()
    if beat is None:
        return SweepStatus(None, None, True)
    age = max(0, int((now - beat.finished_at).total_seconds()))
    return SweepStatus(beat.finished_at, age, age > settings.SLA_SWEEP_STALE_SECONDS)
