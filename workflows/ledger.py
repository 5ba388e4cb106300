"""The SLA box explains itself: which policy version, calendar and target applied, how long
the clock was paused and why; and the ledger page lists every clock event behind it.

Reads only (the clock's figures come from `selectors.sla_summary`; this says where they
come from).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from accounts.compiled import CompiledRead
from issues.models import Issue, Priority, Severity

from .businesstime import ZERO, format_business_duration, format_duration
from .models import ClockEvent, ClockEventKind, PauseSource, SlaCycle
from .selectors import cycles_of

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _hhmm(minutes: int) -> str:
    minutes %= 24 * 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def week_text(week: Sequence[Sequence[Sequence[int]]]) -> str:
    """Working hours as "Mon–Fri 09:00–17:00" (consecutive days with the same hours folded)."""
    days = [tuple(tuple(i) for i in day) for day in week]
    parts: list[str] = []
    i = 0
    while i < 7:
        j = i
        while j + 1 < 7 and days[j + 1] == days[i]:
            j += 1
        if days[i]:
            span = WEEKDAYS[i] if i == j else f"{WEEKDAYS[i]}–{WEEKDAYS[j]}"
            hours = ", ".join(f"{_hhmm(s)}–{_hhmm(e)}" for s, e in days[i])
            parts.append(f"{span} {hours}")
        i = j + 1
    return "; ".join(parts) or "no working hours"


@dataclass
class PausedStretch:
    reason: str
    start: datetime
    end: datetime | None

    def length(self, now: datetime) -> timedelta:
        return (self.end or now) - self.start


@dataclass
class SlaExplanation:
    policy_version: int
    policy_note: str
    policy_since: datetime | None
    calendar: str
    target: str
    paused: list[PausedStretch] = field(default_factory=list)
    paused_total: timedelta = ZERO

    @property
    def paused_text(self) -> str:
        return format_duration(self.paused_total)


def _calendar_text(cycle: SlaCycle, issue: Issue) -> str:
    policy = cycle.policy
    if not cycle.business_hours:
        return f"24×7 ({Severity(issue.severity).label} issues run around the clock)"
    text = f"Business hours, {policy.time_zone}: {week_text(policy.working_hours)}"
    holidays = []
    if policy.holiday_country:
        holidays.append(f"public holidays of {policy.holiday_country.upper()}")
    if policy.holidays:
        holidays.append(
            f"{len(policy.holidays)} extra holiday{'s' if len(policy.holidays) != 1 else ''}"
        )
    return text + (f"; {' and '.join(holidays)} off" if holidays else "")


def paused_stretches(events: list[ClockEvent]) -> list[PausedStretch]:
    """Each pause of a cycle (status or hold) with its reason, from the ledger."""
    open_: dict[str, PausedStretch] = {}
    out: list[PausedStretch] = []
    for ev in sorted(events, key=lambda e: (e.at, e.pk or 0)):
        if ev.kind == ClockEventKind.PAUSED and ev.source not in open_:
            reason = ev.reason or str(PauseSource(ev.source).label if ev.source else "Paused")
            stretch = PausedStretch(reason, ev.at, None)
            open_[ev.source] = stretch
            out.append(stretch)
        elif ev.kind in (ClockEventKind.RESUMED, ClockEventKind.STOPPED):
            sources = [ev.source] if ev.kind == ClockEventKind.RESUMED else list(open_)
            for source in sources:
                closed = open_.pop(source, None)
                if closed is not None:
                    closed.end = ev.at
    return out


def _wall_paused(stretches: list[PausedStretch], now: datetime) -> timedelta:
    """Wall-clock time with at least one pause open (overlapping pauses counted once)."""
    total = ZERO
    end_so_far: datetime | None = None
    for s in sorted(stretches, key=lambda p: p.start):
        start, end = s.start, s.end or now
        if end_so_far is not None and start < end_so_far:
            start = end_so_far
        if end > start:
            total += end - start
            end_so_far = end
    return total


# The SLA box's read of the current cycle's ledger, compiled once.
_cycle_clock_events: CompiledRead[Any] = CompiledRead(
    lambda issue_id, cycle: ClockEvent.objects.filter(issue_id=issue_id, cycle=cycle)
)


def sla_explanation(issue: Issue, now: datetime | None = None) -> SlaExplanation | None:
    """Where the SLA box's figures come from, for the issue's current cycle."""
    now = now or timezone.now()
    cycle = next((c for c in cycles_of(issue) if c.number == issue.sla_cycle), None)
    if cycle is None:
        return None
    policy = cycle.policy
    events = _cycle_clock_events.rows(issue.pk, cycle.number)
    stretches = paused_stretches(events)
    target = (
        f"{Priority(issue.priority).label} priority × {Severity(issue.severity).label} severity: "
        f"{_target_text(cycle.resolution_target_seconds, business=cycle.business_hours)}"
        " to Fixed"
    )
    return SlaExplanation(
        policy_version=policy.version,
        policy_note=policy.note,
        policy_since=policy.created_at,
        calendar=_calendar_text(cycle, issue),
        target=target,
        paused=stretches,
        paused_total=_wall_paused(stretches, now),
    )


def _target_text(seconds: int, *, business: bool) -> str:
    # Business targets in business units, never calendar days (a 24 business-hour target is
    # not "1 d"); 24x7 targets in wall-clock units.
    amount = timedelta(seconds=seconds)
    return format_business_duration(amount) if business else format_duration(amount, seconds=True)


@dataclass
class LedgerRow:
    event: ClockEvent
    what: str


def _row_text(ev: ClockEvent) -> str:
    data = ev.data or {}
    if ev.kind == ClockEventKind.PAUSED:
        text = f"Paused ({PauseSource(ev.source).label.lower() if ev.source else 'status'})"
        text += f": {ev.reason}" if ev.reason else ""
        return text + (f" — {data['note']}" if data.get("note") else "")
    if ev.kind == ClockEventKind.RESUMED:
        return f"Resumed ({PauseSource(ev.source).label.lower() if ev.source else 'status'})"
    if ev.kind == ClockEventKind.TARGET_CHANGED:
        parts = []
        # New entries record seconds; entries written before targets were seconds, minutes
        # (the ledger is append-only, so both are read).
        for key, unit, label in (
            ("resolution_target_seconds", "seconds", "resolution"),
            ("response_target_seconds", "seconds", "response"),
            ("resolution_minutes", "minutes", "resolution"),
            ("response_minutes", "minutes", "response"),
        ):
            value = data.get(key)
            if isinstance(value, list) and len(value) == 2 and None not in value:
                old, new = (format_duration(timedelta(**{unit: int(v)})) for v in value)
                parts.append(f"{label} target {old} → {new}")
            elif isinstance(value, int):
                parts.append(f"{label} target {format_duration(timedelta(**{unit: value}))}")
        if data.get("policy_version"):
            parts.append(f"policy v{data['policy_version']}")
        reason = f" — {ev.reason}" if ev.reason else ""
        return "Target changed" + (f": {', '.join(parts)}" if parts else "") + reason
    return str(ClockEventKind(ev.kind).label) + (f": {ev.reason}" if ev.reason else "")


def ledger_rows(issue: Issue) -> list[tuple[SlaCycle, list[LedgerRow]]]:
    """Every clock event of every cycle, oldest first, grouped by cycle."""
    cycles = {c.number: c for c in cycles_of(issue)}
    grouped: dict[int, list[LedgerRow]] = {}
    for ev in ClockEvent.objects.filter(issue=issue).select_related("actor").order_by("at", "id"):
        grouped.setdefault(ev.cycle, []).append(LedgerRow(ev, _row_text(ev)))
    return [(cycles[n], rows) for n, rows in sorted(grouped.items()) if n in cycles]
