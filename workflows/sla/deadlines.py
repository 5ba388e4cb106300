"""The SLA arithmetic: a cycle's clock derived from its ledger, the deadlines and the
checkpoint moments it gives, a finished cycle's outcome."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from issues.models import Issue

from ..businesstime import ZERO, BusinessCalendar
from ..models import (
    CheckpointKind,
    ClockEvent,
    ClockEventKind,
    CycleOutcome,
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
