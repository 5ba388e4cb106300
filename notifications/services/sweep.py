"""The SLA sweep: claim due checkpoints and escalations once each, alert the escalation
ladder, record what was flagged."""

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from issues.models import EventKind, Issue, IssueEvent, Status
from projects.models import Project, Team
from projects.selectors import visible_pairs
from workflows.models import CheckpointKind, SlaCheckpoint
from workflows.selectors import clock_running

from .. import recipients as rcpt
from ..models import (
    SLA_SWEEP_JOB,
    EmailStatus,
    Kind,
    Mode,
    Notification,
    SlaEscalation,
    Step,
    SweepHeartbeat,
)
from .queueing import kick_outbox, queue_emails
from .rows import _email_status, _insert, _users_with_email, bulk_insert


@dataclass
class SweepResult:
    flagged: int = 0
    escalated: int = 0
    discarded: int = 0
    alerts: int = 0
    emails: int = 0
    # Thresholds reached in the same sweep as a more severe one: flagged, not alerted.
    passed_silently: int = 0


# --- the SLA sweep -----------------------------------------------------------------------------

_STEP_OF = {
    CheckpointKind.WARNING: Step.WARNING,
    CheckpointKind.RESPONSE_BREACH: Step.BREACH,
    CheckpointKind.RESOLUTION_BREACH: Step.BREACH,
}
_KIND_OF_STEP = {
    Step.WARNING: Kind.SLA_AT_RISK,
    Step.BREACH: Kind.SLA_BREACHED,
    Step.ESCALATION: Kind.SLA_ESCALATED,
}


def _alertable(issue: Issue, cycle: int) -> bool:
    return clock_running(issue) and issue.archived_at is None and cycle == issue.sla_cycle


def _summary(
    checkpoint: SlaCheckpoint, step: str, issue: Issue, *, skipped: Sequence[str] = ()
) -> str:
    key = f"{issue.project.key}-{issue.number}"
    note = f" (earlier warnings skipped: {', '.join(skipped)})" if skipped else ""
    if step == Step.WARNING:
        what = checkpoint.label or "resolution target at risk"
        return f"{key} at risk ({what}){note}: {issue.title}"[:300]
    target = "response" if checkpoint.kind == CheckpointKind.RESPONSE_BREACH else "resolution"
    if step == Step.BREACH:
        return f"{key} breached its {target} target{note}: {issue.title}"[:300]
    return f"{key} is still breached ({target} target), escalated to Managers: {issue.title}"[:300]


def _alerts_for(
    items: Sequence[tuple[SlaCheckpoint, str, list[int]]],
    *,
    now: datetime,
    passed: dict[int, list[SlaCheckpoint]] | None = None,
) -> tuple[list[Notification], list[IssueEvent]]:
    """Build the alerts and SLA_FLAGGED events for claimed (checkpoint, step, recipients)."""
    visible = visible_pairs((uid, cp.issue.project_id) for cp, _, uids in items for uid in uids)
    all_ids = {uid for _, _, uids in items for uid in uids}
    modes = rcpt.modes_for(all_ids, {_KIND_OF_STEP[Step(step)] for _, step, _ in items})
    with_email = _users_with_email(all_ids)
    notes: list[Notification] = []
    events: list[IssueEvent] = []
    for cp, step, uids in items:
        issue = cp.issue
        kind = _KIND_OF_STEP[Step(step)]
        skipped = [c.label or c.get_kind_display() for c in (passed or {}).get(cp.id, [])]
        told = []
        for uid in uids:
            mode = modes[(uid, kind)]
            if (uid, issue.project_id) not in visible or mode == Mode.OFF:
                continue
            told.append(uid)
            notes.append(
                Notification(
                    recipient_id=uid,
                    kind=kind,
                    mode=mode,
                    issue_id=issue.id,
                    checkpoint_id=cp.id,
                    checkpoint_due_at=cp.due_at,
                    step=step,
                    summary=_summary(cp, step, issue, skipped=skipped),
                    data={"label": cp.label, "checkpoint_kind": cp.kind}
                    | ({"skipped": skipped} if skipped else {}),
                    email_status=_email_status(mode, uid in with_email),
                )
            )
        events.append(
            IssueEvent(
                issue_id=issue.id,
                actor=None,
                kind=EventKind.SLA_FLAGGED,
                field=cp.kind,
                new_value=(cp.label or cp.get_kind_display())[:200]
                if step != Step.ESCALATION
                else "Escalated to Managers",
                data={
                    "checkpoint_id": cp.id,
                    "cycle": cp.cycle,
                    "threshold": cp.threshold,
                    "step": step,
                    "due_at": cp.due_at.isoformat() if cp.due_at else None,
                    "alerted": told,
                },
                # The sweep alerts people itself; the outbox only hands these to the other
                # readers of the activity (webhooks), the fan-out ignores them.
            )
        )
    return notes, events


def _pending_email_ids(checkpoint_ids: Iterable[int], step: str) -> list[int]:
    return list(
        Notification.objects.filter(
            checkpoint_id__in=list(checkpoint_ids), step=step, email_status=EmailStatus.PENDING
        ).values_list("id", flat=True)
    )


# Only what the sweep reads: thousands of rows per batch, so every column counts.
_CHECKPOINT_FIELDS = (
    "id",
    "cycle",
    "kind",
    "threshold",
    "label",
    "due_at",
    "flagged_at",
    "issue__id",
    "issue__project_id",
    "issue__number",
    "issue__title",
    "issue__status",
    "issue__archived_at",
    "issue__sla_paused_at",
    "issue__sla_cycle",
    "issue__owner_id",
    "issue__team_id",
    "issue__resolution_due_at",
)


def _attach_projects_and_teams(issues: list[Issue]) -> None:
    """Fill the project and team caches from two small queries (few distinct rows)."""
    projects = {p.id: p for p in Project.objects.filter(id__in={i.project_id for i in issues})}
    team_ids = {i.team_id for i in issues if i.team_id is not None}
    teams = {t.id: t for t in Team.objects.filter(id__in=team_ids)} if team_ids else {}
    for issue in issues:
        issue.project = projects[issue.project_id]
        issue.team = teams.get(issue.team_id) if issue.team_id is not None else None


def _claim_checkpoints(now: datetime, batch_size: int) -> list[SlaCheckpoint]:
    rows = list(
        SlaCheckpoint.objects.filter(due_at__lte=now, flagged_at__isnull=True)
        .select_related("issue")
        .only(*_CHECKPOINT_FIELDS)
        .order_by("due_at")
        .select_for_update(skip_locked=True, of=("self",))[:batch_size]
    )
    if not rows:
        return []
    # Every due threshold of the same issues comes in the same batch, wherever the batch was
    # cut, so that a late sweep can alert only the most severe one (`_most_severe_only`).
    rows += list(
        SlaCheckpoint.objects.filter(
            issue_id__in={r.issue_id for r in rows}, due_at__lte=now, flagged_at__isnull=True
        )
        .exclude(id__in=[r.id for r in rows])
        .select_related("issue")
        .only(*_CHECKPOINT_FIELDS)
        .order_by("due_at")
        .select_for_update(skip_locked=True, of=("self",))
    )
    _attach_projects_and_teams([r.issue for r in rows])
    claimed = SlaCheckpoint.objects.filter(
        id__in=[r.id for r in rows], flagged_at__isnull=True
    ).update(flagged_at=now)
    if claimed != len(rows):
        # Cannot happen under the row locks (PostgreSQL) or the write lock (SQLite); refuse
        # rather than risk a double alert. The transaction rolls back, the next sweep retries.
        raise RuntimeError("SLA checkpoints were claimed concurrently; retrying")
    for r in rows:
        r.flagged_at = now
    return rows


def _most_severe_only(
    live: list[SlaCheckpoint],
) -> tuple[list[SlaCheckpoint], dict[int, list[SlaCheckpoint]]]:
    """After downtime one sweep can find an issue past several resolution thresholds at once
    (50 %, 75 %, 90 % and breached). Only the most severe of them is alerted (the breach, else
    the latest warning); the others are passed silently. Returns (to alert, {kept id: passed})."""
    family: dict[tuple[int, int], list[SlaCheckpoint]] = defaultdict(list)
    keep: list[SlaCheckpoint] = []
    for cp in live:
        if cp.kind == CheckpointKind.RESPONSE_BREACH:
            keep.append(cp)  # another target: never folded into the resolution's alerts
        else:
            family[(cp.issue.id, cp.cycle)].append(cp)
    passed: dict[int, list[SlaCheckpoint]] = {}
    for group in family.values():
        group.sort(key=lambda c: (c.kind == CheckpointKind.RESOLUTION_BREACH, c.due_at, c.id))
        top = group[-1]
        keep.append(top)
        if len(group) > 1:
            passed[top.id] = group[:-1]
    keep.sort(key=lambda c: (c.due_at, c.id))
    return keep, passed


def result_passed(passed: dict[int, list[SlaCheckpoint]]) -> int:
    return sum(len(g) for g in passed.values())


def _passed_events(passed: dict[int, list[SlaCheckpoint]], *, now: datetime) -> list[IssueEvent]:
    """One SLA_FLAGGED record per threshold passed silently (audit: it was reached, nobody
    was alerted for it because a more severe alert went out in the same sweep)."""
    return [
        IssueEvent(
            issue_id=cp.issue.id,
            actor=None,
            kind=EventKind.SLA_FLAGGED,
            field=cp.kind,
            new_value=(cp.label or cp.get_kind_display())[:200],
            data={
                "checkpoint_id": cp.id,
                "cycle": cp.cycle,
                "threshold": cp.threshold,
                "step": _STEP_OF[CheckpointKind(cp.kind)].value,
                "due_at": cp.due_at.isoformat() if cp.due_at else None,
                "alerted": [],
                "passed_silently": True,
                "superseded_by": kept_id,
            },
            notified_at=now,
        )
        for kept_id, group in passed.items()
        for cp in group
    ]


def _sweep_checkpoint_batch(now: datetime, batch_size: int, result: SweepResult) -> int:
    with transaction.atomic():
        rows = _claim_checkpoints(now, batch_size)
        if not rows:
            return 0
        live = [cp for cp in rows if _alertable(cp.issue, cp.cycle)]
        result.discarded += len(rows) - len(live)
        live, passed = _most_severe_only(live)
        result.passed_silently += result_passed(passed)
        ladders = rcpt.ladders_for(cp.issue.project_id for cp in live)
        managers = rcpt.managers_of(cp.issue.project_id for cp in live)
        items = []
        escalations = []
        for cp in live:
            step = _STEP_OF[CheckpointKind(cp.kind)]
            ladder = ladders[cp.issue.project_id]
            uids = rcpt.ladder_recipients(cp.issue, step, ladder)
            if not uids and step == Step.BREACH:
                # A breach nobody would hear about goes straight to the Managers.
                uids = managers[cp.issue.project_id]
            items.append((cp, step, uids))
            if step == Step.BREACH and cp.due_at is not None:
                escalations.append(
                    SlaEscalation(
                        checkpoint_id=cp.id,
                        breach_due_at=cp.due_at,
                        due_at=cp.due_at + ladder.escalate_after,
                    )
                )
        notes, events = _alerts_for(items, now=now, passed=passed)
        passed_events = _passed_events(passed, now=now)
        bulk_insert(passed_events + events)
        if events or passed_events:
            kick_outbox()  # bulk inserts send no post_save
        _insert(notes)
        SlaEscalation.objects.bulk_create(escalations, ignore_conflicts=True, batch_size=1000)
        email_ids = []
        for step in (Step.WARNING, Step.BREACH):
            email_ids += _pending_email_ids([cp.id for cp, s, _ in items if s == step], step)
        queue_emails(email_ids)
        result.flagged += len(live) + result_passed(passed)
        result.alerts += len(notes)
        result.emails += len(email_ids)
        return len(rows)


def _still_breached(esc: SlaEscalation, now: datetime) -> bool:
    cp = esc.checkpoint
    issue = cp.issue
    if not _alertable(issue, cp.cycle) or cp.flagged_at is None or cp.due_at != esc.breach_due_at:
        return False
    if cp.kind == CheckpointKind.RESPONSE_BREACH:
        return issue.status == Status.NEW
    return issue.resolution_due_at is not None and issue.resolution_due_at <= now


def _sweep_escalation_batch(now: datetime, batch_size: int, result: SweepResult) -> int:
    with transaction.atomic():
        rows = list(
            SlaEscalation.objects.filter(due_at__lte=now, fired_at__isnull=True)
            .select_related("checkpoint__issue__project", "checkpoint__issue__team")
            .order_by("due_at")
            .select_for_update(skip_locked=True, of=("self",))[:batch_size]
        )
        if not rows:
            return 0
        fired = SlaEscalation.objects.filter(
            id__in=[r.id for r in rows], fired_at__isnull=True
        ).update(fired_at=now)
        if fired != len(rows):
            raise RuntimeError("SLA escalations were claimed concurrently; retrying")
        live = [esc for esc in rows if _still_breached(esc, now)]
        managers = rcpt.managers_of(esc.checkpoint.issue.project_id for esc in live)
        items = []
        for esc in live:
            cp = esc.checkpoint
            # The alert is keyed on the breach it escalates.
            cp.due_at = esc.breach_due_at
            items.append((cp, Step.ESCALATION.value, managers[cp.issue.project_id]))
        notes, events = _alerts_for(items, now=now)
        bulk_insert(events)
        if events:
            kick_outbox()  # bulk inserts send no post_save
        _insert(notes)
        queue_emails(_pending_email_ids([cp.id for cp, _, _ in items], Step.ESCALATION))
        result.escalated += len(live)
        result.alerts += len(notes)
        return len(rows)


def sweep_sla(*, now: datetime | None = None, batch_size: int | None = None) -> SweepResult:
    """Flag the SLA checkpoints that came due and alert the escalation ladder, once.

    1. Claim due, unflagged checkpoints batch by batch (indexed range query on the
       `checkpoint_pending` partial index; rows locked with SKIP LOCKED).
    2. Per claimed checkpoint of an open, running issue in its current cycle: one SLA_FLAGGED
       event and the alerts (warning -> owner or team lead; breach -> owner and team lead);
       breaches arm the Managers' escalation. Stale checkpoints are claimed without alerts.
    3. Fire the escalations that came due when the issue is still breached.
    4. Emails are queued after each batch commits.
    Running it twice, concurrently, or again after a crash alerts nobody twice.
    """
    started = time.monotonic()
    now = now or timezone.now()
    batch_size = batch_size or settings.SLA_SWEEP_BATCH
    result = SweepResult()
    # A batch can hold more than `batch_size` rows (an issue's thresholds stay together).
    while _sweep_checkpoint_batch(now, batch_size, result) >= batch_size:
        pass
    while _sweep_escalation_batch(now, batch_size, result) == batch_size:
        pass
    beat = SweepHeartbeat(
        job=SLA_SWEEP_JOB,
        finished_at=timezone.now(),
        duration_ms=int((time.monotonic() - started) * 1000),
        flagged=result.flagged,
        escalated=result.escalated,
    )
    SweepHeartbeat.objects.bulk_create(  # one upsert: "last SLA sweep 40 s ago" on the dashboard
        [beat],
        update_conflicts=True,
        unique_fields=["job"],
        update_fields=["finished_at", "duration_ms", "flagged", "escalated"],
    )
    return result
