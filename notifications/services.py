"""Notification writes: the SLA sweep, the outbox fan-out, the inbox and preferences.

Exactly once, enforced by the database:
- the sweep claims each due checkpoint with `FOR UPDATE SKIP LOCKED` (PostgreSQL) and a
  conditional `UPDATE ... WHERE flagged_at IS NULL`, in the same transaction as the
  SLA_FLAGGED event and the alerts; a killed sweep rolls back and the next one redoes it;
- alerts are unique per (recipient, checkpoint arming, ladder step) and per (recipient, event),
  and inserted with ON CONFLICT DO NOTHING, so even a run that got past the claim cannot
  create a second one;
- emails are queued after the commit and sent by `notifications.emails` under a claim.
"""

import logging
import time
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.utils import timezone

from issues.models import OPEN_STATUSES, EventKind, Issue, IssueEvent, Status
from projects.models import Membership, Project, Role, Team
from workflows.activity import describe_event
from workflows.models import CheckpointKind, SlaCheckpoint
from workflows.selectors import SlaState, filter_sla_state

from . import recipients as rcpt

# Services queue the app's tasks and the tasks call services: each names the other as a module
# (attributes read at call time), so either may be imported first.
from . import tasks
from .models import (
    ALWAYS_IMMEDIATE,
    MODES_FOR_KIND,
    SLA_SWEEP_JOB,
    EmailStatus,
    Kind,
    Mode,
    Notification,
    NotificationPreference,
    SlaEscalation,
    Step,
    SweepHeartbeat,
)
from .signals import outbox_claimed

log = logging.getLogger(__name__)


# Emails per queued send task: few broker messages, one SMTP connection per chunk.
EMAIL_CHUNK = 50


class NotificationError(Exception):
    """A refused notification change; `str(error)` is shown to the user."""


@dataclass
class SweepResult:
    flagged: int = 0
    escalated: int = 0
    discarded: int = 0
    alerts: int = 0
    emails: int = 0
    # Thresholds reached in the same sweep as a more severe one: flagged, not alerted.
    passed_silently: int = 0


# --- queueing -----------------------------------------------------------------------------


def queue_emails(notification_ids: Sequence[int]) -> None:
    """After the commit, hand the emails to the worker in chunks (one task per chunk)."""
    ids = list(notification_ids)
    if not ids:
        return

    def publish() -> None:
        for start in range(0, len(ids), EMAIL_CHUNK):
            _publish(tasks.send_notification_emails, ids[start : start + EMAIL_CHUNK])

    transaction.on_commit(publish)


def _publish(task, *args) -> None:
    # A broker outage must not break the user's request: the beat catch-up re-queues
    # everything still pending, so nothing is lost.
    try:
        task.delay(*args)
    except Exception:
        log.exception("Could not queue %s; the catch-up beat entry will retry", task.name)


def _publish_outbox() -> None:
    _publish(tasks.process_outbox)


def kick_outbox() -> None:
    """Process the outbox once the current transaction commits.

    One task per transaction, however many events it records (filing an issue records 3-4:
    created, watchers, SLA clock), since each task is a broker round trip on the request's
    path and one run handles every pending event. "Per transaction" is per atomic block: a
    callback registered in the same block (same savepoints) is enough, and a rolled-back
    block drops its callback with it, so a later event registers a new one.
    """
    conn = transaction.get_connection()
    if conn.in_atomic_block:
        here = set(conn.savepoint_ids)
        if any(
            func is _publish_outbox and savepoints == here
            for savepoints, func, _robust in conn.run_on_commit
        ):
            return
    transaction.on_commit(_publish_outbox)


def kick_outbox_on_new_event(sender, instance: IssueEvent, created: bool, **kwargs: Any) -> None:
    """post_save receiver on IssueEvent (connected in apps.py): a new, unprocessed event kicks
    the outbox after the commit."""
    if created and instance.notified_at is None:
        kick_outbox()


def _email_status(mode: str, recipient_has_email: bool) -> str:
    if mode == Mode.IMMEDIATE and recipient_has_email:
        return EmailStatus.PENDING
    if mode == Mode.DIGEST and recipient_has_email:
        return EmailStatus.BATCHED
    return EmailStatus.NONE


def _users_with_email(user_ids: Iterable[int]) -> set[int]:
    return set(
        get_user_model()
        .objects.filter(id__in=set(user_ids))
        .exclude(email="")
        .values_list("id", flat=True)
    )


def _insert(notes: list[Notification]) -> None:
    """Insert notifications; one that already exists (unique constraints) is left alone."""
    bulk_insert(notes, ignore_conflicts=True)


def bulk_insert(objs: Sequence[models.Model], *, ignore_conflicts: bool = False) -> None:
    """`bulk_create` without signals; on PostgreSQL one `INSERT … SELECT FROM unnest(arrays)`.

    The sweep inserts thousands of rows per batch: one array parameter per column instead of
    one parameter per value keeps Django's SQL compilation and the driver's conversion cheap.
    """
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objs, ignore_conflicts=ignore_conflicts, batch_size=1000)
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
    params = [
        [f.get_db_prep_save(f.pre_save(obj, True), connection) for obj in objs] for f in fields
    ]
    conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {model._meta.db_table} ({columns}) "  # noqa: S608  # nosec B608
            f"SELECT * FROM unnest({arrays}){conflict}",
            params,
        )


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
    return (
        issue.status in OPEN_STATUSES
        and issue.archived_at is None
        and issue.sla_paused_at is None
        and cycle == issue.sla_cycle
    )


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
    visible = rcpt.who_can_see((uid, cp.issue.project_id) for cp, _, uids in items for uid in uids)
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


# --- the outbox: events written by the other apps -------------------------------------------------


def _comment_excerpt(comment_id: object) -> str:
    try:
        # The comments model belongs to the issues app; looked up by name, it may not exist yet.
        model: Any = apps.get_model("issues", "Comment")  # type: ignore[misc]
    except LookupError:
        return ""
    comment = model.objects.filter(pk=comment_id).first() if comment_id else None
    body = getattr(comment, "body", "") if comment is not None else ""
    return (body[:280] + "…") if len(body) > 280 else body


def _status_label(value: str) -> str:
    try:
        return str(Status(value).label)
    except ValueError:
        return value


def _planned_for_event(
    event: IssueEvent, watchers: dict[int, set[int]]
) -> list[tuple[int, str, str, dict]]:
    """(recipient id, kind, summary, data) for one event, one row per person at most."""
    issue = event.issue
    key = f"{issue.project.key}-{issue.number}"
    who = str(event.actor) if event.actor_id else "Resolve"
    planned: dict[int, tuple[str, str, dict]] = {}
    data = event.data or {}
    if event.kind == EventKind.TRANSITIONED:
        old, new = _status_label(event.old_value), _status_label(event.new_value)
        # The why of the step (fix summary, what failed, resolution …) travels to the e-mail.
        step = {
            "old": event.old_value,
            "new": event.new_value,
            "reasons": describe_event(event).reasons,
        }
        for uid in watchers.get(issue.id, set()):
            planned[uid] = (
                Kind.STATUS_CHANGED,
                f"{who} moved {key} from {old} to {new}: {issue.title}",
                step,
            )
        owner_id = data.get("owner_id")
        if owner_id:
            planned[int(owner_id)] = (
                Kind.ASSIGNED,
                f"{who} assigned {key} to you ({new}): {issue.title}",
                step,
            )
    elif event.kind == EventKind.CHANGED and event.field == "owner":
        # An owner set by a transition is announced by its TRANSITIONED record.
        owner_id = None if data.get("with_transition") else data.get("owner_id")
        if owner_id:
            planned[int(owner_id)] = (
                Kind.ASSIGNED,
                f"{who} assigned {key} to you: {issue.title}",
                {},
            )
    elif event.kind == EventKind.COMMENTED:
        excerpt = _comment_excerpt(data.get("comment_id"))
        extra = {"comment_id": data.get("comment_id"), "excerpt": excerpt}
        for uid in watchers.get(issue.id, set()):
            planned[uid] = (Kind.COMMENTED, f"{who} commented on {key}: {issue.title}", extra)
        for uid in data.get("mentions") or []:
            planned[int(uid)] = (
                Kind.MENTIONED,
                f"{who} mentioned you on {key}: {issue.title}",
                extra,
            )
    # The person who acted is never told about their own action.
    planned.pop(event.actor_id or 0, None)
    return [(uid, kind, summary[:300], d) for uid, (kind, summary, d) in planned.items()]


_CONSUMED = (EventKind.TRANSITIONED, EventKind.CHANGED, EventKind.COMMENTED)


def _process_outbox_batch(batch_size: int) -> int:
    with transaction.atomic():
        events = list(
            IssueEvent.objects.filter(notified_at__isnull=True)
            .select_related("issue__project", "actor")
            .order_by("created_at", "id")
            .select_for_update(skip_locked=True, of=("self",))[:batch_size]
        )
        if not events:
            return 0
        outbox_claimed.send(sender=IssueEvent, events=events)
        relevant = [e for e in events if e.kind in _CONSUMED]
        watchers: dict[int, set[int]] = defaultdict(set)
        through = Issue.watchers.through
        for issue_id, user_id in through.objects.filter(
            issue_id__in={e.issue_id for e in relevant}
        ).values_list("issue_id", "user_id"):
            watchers[issue_id].add(user_id)
        plans = [(e, row) for e in relevant for row in _planned_for_event(e, watchers)]
        visible = rcpt.who_can_see((row[0], e.issue.project_id) for e, row in plans)
        modes = rcpt.modes_for({row[0] for _, row in plans}, {row[1] for _, row in plans})
        with_email = _users_with_email({row[0] for _, row in plans})
        notes = []
        for e, (uid, kind, summary, data) in plans:
            mode = modes[(uid, kind)]
            if (uid, e.issue.project_id) not in visible or mode == Mode.OFF:
                continue
            notes.append(
                Notification(
                    recipient_id=uid,
                    kind=kind,
                    mode=mode,
                    issue_id=e.issue_id,
                    actor_id=e.actor_id,
                    event_id=e.id,
                    summary=summary,
                    data=data,
                    email_status=_email_status(mode, uid in with_email),
                )
            )
        _insert(notes)
        # Marking the outbox row processed is the one update IssueEvent allows (notified_at).
        IssueEvent.objects.filter(id__in=[e.id for e in events]).update(notified_at=timezone.now())
        queue_emails(
            list(
                Notification.objects.filter(
                    event_id__in=[e.id for e in relevant], email_status=EmailStatus.PENDING
                ).values_list("id", flat=True)
            )
        )
        return len(events)


def process_outbox(*, batch_size: int = 200) -> int:
    """Fan out unprocessed events (assignments, status changes, comments, mentions).

    Each batch claims its events with SKIP LOCKED, creates the notifications (unique per
    person and event) and marks the events processed in one transaction.
    """
    total = 0
    while (n := _process_outbox_batch(batch_size)) > 0:
        total += n
        if n < batch_size:
            break
    return total


# --- the inbox and preferences -------------------------------------------------------------------


def mark_read(notification: Notification, *, user) -> None:
    if notification.recipient_id != user.pk:
        raise NotificationError("This notification is not yours.")
    if notification.read_at is None:
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=timezone.now()
        )


def mark_all_read(user) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def set_preferences(user, *, modes: dict[str, str]) -> None:
    """Save the user's mode per kind; forced kinds and unknown modes are refused."""
    for kind, mode in modes.items():
        if kind not in Kind.values or mode not in Mode.values:
            raise NotificationError(f"Unknown notification setting {kind}: {mode}.")
        if kind in ALWAYS_IMMEDIATE:
            raise NotificationError(f"“{Kind(kind).label}” always goes out immediately.")
        if mode not in MODES_FOR_KIND.get(Kind(kind), Mode.values):
            raise NotificationError(
                f"“{Mode(mode).label}” is not available for {Kind(kind).label}."
            )
    with transaction.atomic():
        for kind, mode in modes.items():
            NotificationPreference.objects.update_or_create(
                user=user, kind=kind, defaults={"mode": mode}
            )


# --- digests --------------------------------------------------------------------------------------


def create_daily_digests(*, now: datetime | None = None) -> int:
    """Create today's SLA digest for each manager whose local time is the digest hour.

    Unique per manager and local date, so the 15-minute beat entry creates it once.
    """

    now = now or timezone.now()
    rows = (
        Membership.objects.filter(
            role=Role.MANAGER, user__is_active=True, project__archived_at__isnull=True
        )
        .values_list("user_id", "user__time_zone", "project_id")
        .order_by("user_id")
    )
    projects_of: dict[int, list[int]] = defaultdict(list)
    zone_of: dict[int, str] = {}
    for uid, tz, pid in rows:
        projects_of[uid].append(pid)
        zone_of[uid] = tz
    due: dict[int, date] = {}
    for uid, tz in zone_of.items():
        try:
            local = now.astimezone(zoneinfo.ZoneInfo(tz or "UTC"))
        except zoneinfo.ZoneInfoNotFoundError:
            local = now
        if local.hour == settings.SLA_DIGEST_HOUR:
            due[uid] = local.date()
    if not due:
        return 0
    already = set(
        Notification.objects.filter(
            kind=Kind.DAILY_DIGEST, recipient_id__in=due.keys(), digest_date__in=set(due.values())
        ).values_list("recipient_id", "digest_date")
    )
    modes = rcpt.modes_for(due.keys(), {Kind.DAILY_DIGEST})
    with_email = _users_with_email(due.keys())
    open_issues = Issue.objects.filter(status__in=OPEN_STATUSES, archived_at__isnull=True)
    notes = []
    for uid, day in due.items():
        mode = modes[(uid, Kind.DAILY_DIGEST)]
        if (uid, day) in already or mode == Mode.OFF:
            continue
        mine = open_issues.filter(project_id__in=projects_of[uid])
        at_risk = list(filter_sla_state(mine, SlaState.AT_RISK, now).values_list("id", flat=True))
        breached = list(filter_sla_state(mine, SlaState.BREACHED, now).values_list("id", flat=True))
        if not at_risk and not breached:
            continue
        notes.append(
            Notification(
                recipient_id=uid,
                kind=Kind.DAILY_DIGEST,
                mode=mode,
                digest_date=day,
                summary=f"Daily SLA digest for {day:%d %b}: {len(at_risk)} at risk, "
                f"{len(breached)} breached",
                data={"at_risk": at_risk, "breached": breached},
                email_status=_email_status(mode, uid in with_email),
            )
        )
    with transaction.atomic():
        _insert(notes)
        queue_emails(
            list(
                Notification.objects.filter(
                    kind=Kind.DAILY_DIGEST,
                    recipient_id__in=due.keys(),
                    digest_date__in=set(due.values()),
                    email_status=EmailStatus.PENDING,
                ).values_list("id", flat=True)
            )
        )
    return len(notes)
