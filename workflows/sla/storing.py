"""Storing what the arithmetic gives: deadlines on the issue, checkpoints moved or cleared
in bulk."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from issues.models import Issue

from ..models import (
    ClockEvent,
    SlaCheckpoint,
    SlaCycle,
)
from .deadlines import Deadlines, compute_deadlines


def cycle_events(issue: Issue, cycle: int) -> list[ClockEvent]:
    return list(ClockEvent.objects.filter(issue=issue, cycle=cycle))


def store_deadlines(
    issue: Issue, cycle: SlaCycle, deadlines: Deadlines, *, fresh: bool = False
) -> None:
    """Cache the deadlines on the issue and the cycle; move unflagged checkpoints only."""
    issue.response_due_at = deadlines.response_due_at
    issue.resolution_due_at = deadlines.resolution_due_at
    issue.at_risk_at = deadlines.at_risk_at
    issue.sla_paused_at = deadlines.paused_since
    issue.save(
        update_fields=["response_due_at", "resolution_due_at", "at_risk_at", "sla_paused_at"]
    )
    if (cycle.response_due_at, cycle.resolution_due_at) != (
        deadlines.response_due_at,
        deadlines.resolution_due_at,
    ):
        cycle.response_due_at = deadlines.response_due_at
        cycle.resolution_due_at = deadlines.resolution_due_at
        cycle.save(update_fields=["response_due_at", "resolution_due_at"])
    _move_checkpoints(issue, cycle.number, deadlines.checkpoints, fresh=fresh)


@dataclass
class CheckpointChanges:
    create: list[SlaCheckpoint] = field(default_factory=list)
    move: list[tuple[SlaCheckpoint, datetime | None]] = field(default_factory=list)
    delete: list[int] = field(default_factory=list)


def checkpoint_changes(
    issue: Issue,
    cycle: int,
    existing: dict[tuple[str, int], SlaCheckpoint],
    wanted: dict[tuple[str, int], tuple[datetime | None, str]],
) -> CheckpointChanges:
    """Pure: which checkpoint rows to create, move or delete. Flagged rows are never touched."""
    changes = CheckpointChanges()
    for key, (due, label) in wanted.items():
        row = existing.get(key)
        if row is None:
            if due is not None:
                changes.create.append(
                    SlaCheckpoint(
                        issue=issue,
                        cycle=cycle,
                        kind=key[0],
                        threshold=key[1],
                        label=label,
                        due_at=due,
                    )
                )
        elif row.flagged_at is None and row.due_at != due:
            changes.move.append((row, due))
    changes.delete = [
        c.pk for key, c in existing.items() if key not in wanted and c.flagged_at is None
    ]
    return changes


def write_checkpoint_changes(*all_changes: CheckpointChanges) -> None:
    moved, created, deleted = [], [], []
    for changes in all_changes:
        for row, due in changes.move:
            row.due_at = due
            moved.append(row)
        created += changes.create
        deleted += changes.delete
    if moved:
        # A row the sweep has just claimed (flagged_at set) is never moved.
        bulk_set(SlaCheckpoint, moved, ["due_at"], unflagged_only=True)
    if created:
        SlaCheckpoint.objects.bulk_create(created, ignore_conflicts=True, batch_size=500)
    if deleted:
        SlaCheckpoint.objects.filter(pk__in=deleted, flagged_at__isnull=True).delete()


def _move_checkpoints(
    issue: Issue,
    cycle: int,
    wanted: dict[tuple[str, int], tuple[datetime | None, str]],
    *,
    fresh: bool = False,
) -> None:
    existing = (
        {} if fresh else {(c.kind, c.threshold): c for c in issue.checkpoints.filter(cycle=cycle)}
    )
    write_checkpoint_changes(checkpoint_changes(issue, cycle, existing, wanted))


def refresh_deadlines(
    issue: Issue,
    cycle: SlaCycle,
    *,
    events: list[ClockEvent] | None = None,
    fresh: bool = False,
) -> Deadlines:
    """Re-derive and cache. `events`: the cycle's ledger when the caller has it in hand;
    `fresh`: a cycle just opened (no checkpoints to look up)."""
    if events is None:
        events = cycle_events(issue, cycle.number)
    deadlines = compute_deadlines(issue, cycle, cycle.policy, events)
    store_deadlines(issue, cycle, deadlines, fresh=fresh)
    return deadlines


def now() -> datetime:
    return timezone.now()


def bulk_set(model: Any, objs: list, fields: list[str], *, unflagged_only: bool = False) -> None:
    """`bulk_update` without Django's per-row CASE expressions (slow in Python for thousands of
    rows): on PostgreSQL one ``UPDATE … FROM (VALUES …)`` per batch; elsewhere bulk_update.
    `unflagged_only`: never touch a checkpoint the sweep has claimed."""

    if not objs:
        return
    manager = model.objects.filter(flagged_at__isnull=True) if unflagged_only else model.objects
    if connection.vendor != "postgresql":
        manager.bulk_update(objs, fields, batch_size=200)
        return
    q = connection.ops.quote_name
    pk = model._meta.pk
    columns = [model._meta.get_field(f) for f in fields]
    names = [pk.column] + [c.column for c in columns]
    types = [pk.db_type(connection)] + [
        c.target_field.db_type(connection) if c.is_relation else c.db_type(connection)
        for c in columns
    ]
    row_sql = "(" + ", ".join(f"%s::{t}" for t in types) + ")"
    sets = ", ".join(f"{q(n)} = v.{q(n)}" for n in names[1:])
    where = f"t.{q(pk.column)} = v.{q(pk.column)}" + (
        " AND t.flagged_at IS NULL" if unflagged_only else ""
    )
    # Identifiers come from model metadata (quoted); every value is a parameter.
    head = f"UPDATE {q(model._meta.db_table)} AS t SET {sets} FROM (VALUES "  # noqa: S608  # nosec B608
    tail = f") AS v({', '.join(q(n) for n in names)}) WHERE {where}"
    with connection.cursor() as cursor:
        for start in range(0, len(objs), 1000):
            batch = objs[start : start + 1000]
            params: list = []
            for obj in batch:
                params.append(obj.pk)
                params += [c.get_db_prep_save(getattr(obj, c.attname), connection) for c in columns]
            cursor.execute(head + ", ".join([row_sql] * len(batch)) + tail, params)
