"""The reference: a cycle replayed from its ledger alone, to check the stored deadlines."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..businesstime import ZERO, BusinessCalendar
from ..models import (
    CheckpointKind,
    ClockEvent,
    ClockEventKind,
    CycleOutcome,
)
from .deadlines import warning_amount


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
