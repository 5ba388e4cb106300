"""The SLA engine: derive an issue's clock from its ledger and cache the deadlines.

The ledger (`ClockEvent`) is the truth; `derive_clock` folds it into running segments, and
`compute_deadlines` turns the segments and the cycle's targets into moments (deadline,
warnings, response deadline) in business time; `outcome_of` judges a response or a fix.
`store_deadlines` caches them on the issue and the cycle and moves the unflagged `SlaCheckpoint`
rows. Callers hold the issue's row lock. `replay_cycle` is the reference: everything cached
about a cycle recomputed from its ledger in one plain walk (tests/workflows/test_sla_replay.py
holds the services to it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from issues.models import Issue

from .businesstime import ZERO, BusinessCalendar
from .models import (
    CheckpointKind,
    ClockEvent,
    ClockEventKind,
    CycleOutcome,
    SlaCheckpoint,
    SlaCycle,
    SlaPolicy,
)


@dataclass
class Clock:
    """The state of one cycle's clock, folded from its ledger."""

    # Running stretches; the last one is open (end None) while the clock runs.
    segments: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    paused_since: datetime | None = None
    pauses: dict[str, str] = field(default_factory=dict)  # source -> reason
    responded_at: datetime | None = None
    stopped_at: datetime | None = None

    @property
    def running(self) -> bool:
        return bool(self.segments) and self.segments[-1][1] is None

    def consumed(self, calendar: BusinessCalendar, until: datetime) -> timedelta:
        total = ZERO
        for start, end in self.segments:
            if start >= until:
                break
            total += calendar.measure(start, min(end or until, until))
        return total

    def waiting(self, until: datetime) -> timedelta:
        """Wall-clock time paused between the first start and `until` (or the stop)."""
        if not self.segments:
            return ZERO
        end = self.stopped_at or until
        running = sum(((e or end) - s for s, e in self.segments), ZERO)
        return max(end - self.segments[0][0] - running, ZERO)


def derive_clock(events: Iterable[ClockEvent]) -> Clock:
    clock = Clock()
    running_since: datetime | None = None
    for ev in sorted(events, key=lambda e: (e.at, e.pk or 0)):
        if ev.kind == ClockEventKind.STARTED:
            running_since = ev.at
            clock.paused_since = None
        elif ev.kind == ClockEventKind.PAUSED:
            if not clock.pauses and running_since is not None:
                clock.segments.append((running_since, ev.at))
                running_since = None
                clock.paused_since = ev.at
            clock.pauses[ev.source] = ev.reason
        elif ev.kind == ClockEventKind.RESUMED:
            clock.pauses.pop(ev.source, None)
            if not clock.pauses and clock.paused_since is not None and clock.stopped_at is None:
                running_since = ev.at
                clock.paused_since = None
        elif ev.kind == ClockEventKind.RESPONDED:
            clock.responded_at = clock.responded_at or ev.at
        elif ev.kind == ClockEventKind.STOPPED:
            if running_since is not None:
                clock.segments.append((running_since, ev.at))
                running_since = None
            clock.stopped_at = ev.at
            clock.paused_since = None
            clock.pauses = {}
    if running_since is not None:
        clock.segments.append((running_since, None))
    return clock


def moments_for(
    calendar: BusinessCalendar, clock: Clock, amounts: list[timedelta]
) -> tuple[list[datetime | None], list[datetime | None]]:
    """When each amount of clock time is (or was) reached.

    Returns (reached, projected): `reached` is None for amounts the clock has not reached and
    cannot reach now (paused or stopped); `projected` fills those in as if the clock resumed
    where it was paused (or stopped), so a paused issue still shows its remaining time.
    """
    order = sorted(range(len(amounts)), key=amounts.__getitem__)
    reached: list[datetime | None] = [None] * len(amounts)
    consumed = ZERO
    k = 0
    last_end: datetime | None = None
    for start, end in clock.segments:
        if end is None:
            rest = order[k:]
            for j, at in zip(
                rest, calendar.add_many(start, [amounts[j] - consumed for j in rest]), strict=False
            ):
                reached[j] = at
            return reached, list(reached)
        length = calendar.measure(start, end)
        hit = []
        while k < len(order) and amounts[order[k]] <= consumed + length:
            hit.append(order[k])
            k += 1
        for j, at in zip(
            hit, calendar.add_many(start, [amounts[j] - consumed for j in hit]), strict=False
        ):
            reached[j] = at
        consumed += length
        last_end = end
    projected = list(reached)
    resume_from = clock.paused_since or clock.stopped_at or last_end
    if resume_from is not None and k < len(order):
        rest = order[k:]
        for j, at in zip(
            rest,
            calendar.add_many(resume_from, [amounts[j] - consumed for j in rest]),
            strict=False,
        ):
            projected[j] = at
    return reached, projected


def outcome_of(consumed: timedelta, target_seconds: int | None) -> str:
    """Met while the clock is short of the target; reaching it is the breach, the moment
    `sla_state` turns Breached and the sweep alerts. (A fix on the evening of a deadline that
    fell at 17:00 is missed, although no more business time has passed since.)"""
    if target_seconds is None:
        return CycleOutcome.MET
    met = consumed < timedelta(seconds=target_seconds)
    return CycleOutcome.MET if met else CycleOutcome.MISSED


def warning_amount(target: timedelta, threshold: int) -> timedelta:
    if threshold > 0:
        return target * threshold / 100
    return max(target + timedelta(minutes=threshold), ZERO)


def warning_label(threshold: int) -> str:
    if threshold > 0:
        return f"{threshold} % of the target elapsed"
    return f"{-threshold} min before the deadline"


@dataclass
class Deadlines:
    response_due_at: datetime | None
    resolution_due_at: datetime | None
    at_risk_at: datetime | None
    paused_since: datetime | None
    # (kind, threshold) -> (due_at for the checkpoint or None while unreachable, label)
    checkpoints: dict[tuple[str, int], tuple[datetime | None, str]]


def compute_deadlines(
    issue: Issue, cycle: SlaCycle, policy: SlaPolicy, events: Iterable[ClockEvent]
) -> Deadlines:
    """Pure: the deadlines of the cycle under `policy` (which may be an unsaved draft)."""
    return deadlines_for(
        derive_clock(events),
        policy.calendar_for(issue.severity),
        resolution_target_seconds=cycle.resolution_target_seconds,
        response_target_seconds=cycle.response_target_seconds,
        warnings=policy.warnings,
    )


def deadlines_for(
    clock: Clock,
    calendar: BusinessCalendar,
    *,
    resolution_target_seconds: int,
    response_target_seconds: int | None,
    warnings: Iterable[int],
) -> Deadlines:
    """Pure, on plain values: the deadlines of a clock with these targets."""
    target = timedelta(seconds=resolution_target_seconds)
    keys: list[tuple[str, int]] = [(CheckpointKind.RESOLUTION_BREACH, 0)]
    amounts = [target]
    for threshold in sorted({int(t) for t in warnings}):
        keys.append((CheckpointKind.WARNING, threshold))
        amounts.append(warning_amount(target, threshold))
    if response_target_seconds is not None:
        keys.append((CheckpointKind.RESPONSE_BREACH, 0))
        amounts.append(timedelta(seconds=response_target_seconds))
    reached, projected = moments_for(calendar, clock, amounts)
    at = dict(zip(keys, projected, strict=True))
    checkpoints: dict[tuple[str, int], tuple[datetime | None, str]] = {}
    for key, due in zip(keys, reached, strict=True):
        kind, threshold = key
        if kind == CheckpointKind.RESPONSE_BREACH and clock.responded_at is not None:
            due = None
        if clock.stopped_at is not None:
            due = None
        label = (
            warning_label(threshold)
            if kind == CheckpointKind.WARNING
            else CheckpointKind(kind).label
        )
        checkpoints[key] = (due, label)
    warning_moments = [
        v for (k, _), v in at.items() if k == CheckpointKind.WARNING and v is not None
    ]
    return Deadlines(
        response_due_at=at.get((CheckpointKind.RESPONSE_BREACH, 0)),
        resolution_due_at=at[(CheckpointKind.RESOLUTION_BREACH, 0)],
        at_risk_at=min(warning_moments) if warning_moments else None,
        paused_since=clock.paused_since,
        checkpoints=checkpoints,
    )


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


def bulk_set(model, objs: list, fields: list[str], *, unflagged_only: bool = False) -> None:
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


# --- the reference: a cycle replayed from its ledger alone ---------------------------------
@dataclass
class Replay:
    """One cycle recomputed from scratch from its ledger and targets (see `replay_cycle`)."""

    runs: list[tuple[datetime, datetime | None]]  # stretches with the clock running
    calendar: BusinessCalendar
    started_at: datetime | None
    responded_at: datetime | None
    stopped_at: datetime | None
    paused_since: datetime | None
    resolution_due_at: datetime | None
    response_due_at: datetime | None
    at_risk_at: datetime | None
    # The deadlines actually reached by the ledger (None: not reached before a pause or stop).
    resolution_reached_at: datetime | None
    response_reached_at: datetime | None
    checkpoints: dict[tuple[str, int], datetime | None]  # pending (unflagged) due moments
    response_outcome: str
    response_seconds: int | None
    outcome: str
    working_seconds: int | None
    waiting_seconds: int | None

    def elapsed(self, until: datetime) -> timedelta:
        """Business time on the clock up to `until` (the open stretch runs on)."""
        total = ZERO
        for start, end in self.runs:
            if start >= until:
                break
            total += self.calendar.measure(start, min(end or until, until))
        return total

    def paused(self, until: datetime) -> timedelta:
        """Wall-clock time off the clock between the start and `until` (or the stop)."""
        if self.started_at is None:
            return ZERO
        end = min(until, self.stopped_at or until)
        running = sum(((min(e or end, end) - s) for s, e in self.runs if s < end), ZERO)
        return max(end - self.started_at - running, ZERO)


def replay_cycle(
    events: Iterable[ClockEvent],
    calendar: BusinessCalendar,
    *,
    resolution_target_seconds: int,
    response_target_seconds: int | None,
    warnings: Iterable[int],
) -> Replay:
    """The reference for everything the services cache about a cycle (deadlines, paused
    since, outcomes, working and waiting time): recomputed from the ledger in one plain walk,
    one amount at a time, with `businesstime` as the only arithmetic. Tests hold the cached
    state of every cycle equal to it; it is slower than the services' path, not different."""
    runs: list[list] = []
    pauses: set[str] = set()
    started = responded = stopped = paused_since = None
    for ev in sorted(events, key=lambda e: (e.at, e.pk or 0)):
        if stopped is not None:
            break  # a stopped cycle is finished; nothing after the stop counts
        if ev.kind == ClockEventKind.STARTED:
            started = started or ev.at
        elif ev.kind == ClockEventKind.PAUSED:
            pauses.add(ev.source)
        elif ev.kind == ClockEventKind.RESUMED:
            pauses.discard(ev.source)
        elif ev.kind == ClockEventKind.RESPONDED:
            responded = responded or ev.at
        elif ev.kind == ClockEventKind.STOPPED:
            stopped = ev.at
        is_running = started is not None and stopped is None and not pauses
        was_running = bool(runs) and runs[-1][1] is None
        if was_running and not is_running:
            runs[-1][1] = ev.at
            paused_since = ev.at if stopped is None else None
        elif is_running and not was_running:
            runs.append([ev.at, None])
            paused_since = None
        if stopped is not None:
            paused_since = None
    stretches: list[tuple[datetime, datetime | None]] = [(s, e) for s, e in runs]

    def moment(amount: timedelta) -> tuple[datetime | None, datetime | None]:
        """(reached, projected): when the clock reaches `amount`; while paused or stopped
        short of it, only the projection from the pause (as the SLA box shows it)."""
        before = ZERO
        for start, end in stretches:
            if end is None or before + calendar.measure(start, end) >= amount:
                at = calendar.add(start, amount - before)
                return at, at
            before += calendar.measure(start, end)
        resume = paused_since or stopped or (stretches[-1][1] if stretches else None)
        return None, (calendar.add(resume, amount - before) if resume else None)

    target = timedelta(seconds=resolution_target_seconds)
    resolution_reached, resolution_due = moment(target)
    warning_moments = {int(t): moment(warning_amount(target, int(t))) for t in warnings}
    response_reached = response_due = None
    if response_target_seconds is not None:
        response_reached, response_due = moment(timedelta(seconds=response_target_seconds))
    # What the sweep should find pending: reached moments, none once answered or stopped.
    checkpoints: dict[tuple[str, int], datetime | None] = {
        (CheckpointKind.RESOLUTION_BREACH, 0): resolution_reached,
        **{(CheckpointKind.WARNING, t): m[0] for t, m in warning_moments.items()},
    }
    if response_target_seconds is not None:
        checkpoints[(CheckpointKind.RESPONSE_BREACH, 0)] = (
            None if responded is not None else response_reached
        )
    if stopped is not None:
        checkpoints = dict.fromkeys(checkpoints)
    replay = Replay(
        runs=stretches,
        calendar=calendar,
        started_at=started,
        responded_at=responded,
        stopped_at=stopped,
        paused_since=paused_since,
        resolution_due_at=resolution_due,
        response_due_at=response_due,
        at_risk_at=min((m[1] for m in warning_moments.values() if m[1]), default=None),
        checkpoints=checkpoints,
        resolution_reached_at=resolution_reached,
        response_reached_at=response_reached,
        response_outcome="",
        response_seconds=None,
        outcome="",
        working_seconds=None,
        waiting_seconds=None,
    )
    # An outcome is missed when the deadline was reached at or before the moment it judges.
    if responded is not None and response_target_seconds is not None:
        missed = response_reached is not None and response_reached <= responded
        replay.response_outcome = CycleOutcome.MISSED if missed else CycleOutcome.MET
        replay.response_seconds = int(replay.elapsed(responded).total_seconds())
    if stopped is not None:
        missed = resolution_reached is not None and resolution_reached <= stopped
        replay.outcome = CycleOutcome.MISSED if missed else CycleOutcome.MET
        replay.working_seconds = int(replay.elapsed(stopped).total_seconds())
        replay.waiting_seconds = int(replay.paused(stopped).total_seconds())
    return replay
