"""Time left: one function for every page, e-mail and API field."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from accounts.compiled import CompiledRead
from issues.models import OPEN_STATUSES, Issue

from ..businesstime import (
    HORIZON,
    BusinessCalendar,
    format_business_duration,
    format_duration,
    no_working_time_text,
)
from ..models import SlaPolicy
from .sla_state import SlaState, sla_state


@dataclass(frozen=True)
class TimeLeft:
    """Time left on an open issue's clock, in the clock's own time: business time for a
    business-hours cycle, clock time for a 24x7 one. Once breached, the wall-clock time since
    the deadline (it is a moment that has passed)."""

    state: str
    business: bool = True
    remaining: timedelta | None = None
    overdue: timedelta | None = None
    # An open clock whose deadline no working time within the search horizon reaches.
    unreachable: bool = False

    @property
    def sort_seconds(self) -> float | None:
        """Ranks issues by urgency: overdue first (negative), then least time left."""
        if self.overdue is not None:
            return -self.overdue.total_seconds()
        if self.remaining is not None:
            return self.remaining.total_seconds()
        return None

    @property
    def amount_text(self) -> str:
        if self.remaining is None:
            return ""
        if self.business:
            return format_business_duration(self.remaining)
        return format_duration(self.remaining)

    @property
    def short(self) -> str:
        """For badges and rows: "3 business h 10 min left", "2 h over"."""
        if self.unreachable:
            return no_working_time_text()
        if self.overdue is not None:
            return f"{format_duration(self.overdue)} over"
        if self.remaining is not None:
            return f"{self.amount_text} left"
        return ""


def time_left(issue: Issue, calendar: BusinessCalendar, now: datetime | None = None) -> TimeLeft:
    """The one rule for time left, from the deadlines cached on the issue (no ledger walk):
    the calendar's working time from now (or from the pause) to the cached deadline."""
    now = now or timezone.now()
    state = sla_state(issue, now)
    business = not calendar.always
    due = issue.resolution_due_at
    if issue.status not in OPEN_STATUSES:
        return TimeLeft(state=state, business=business)
    if due is None:
        return TimeLeft(state=state, business=business, unreachable=True)
    if state == SlaState.BREACHED:
        return TimeLeft(state=state, business=business, overdue=now - due)
    since = issue.sla_paused_at if issue.sla_paused_at is not None else now
    return TimeLeft(state=state, business=business, remaining=calendar.measure(since, due))


def time_left_of(issue: Issue, now: datetime | None = None) -> TimeLeft:
    """`time_left` for one issue: its current cycle's policy when the page prefetched the
    cycles (`cycles_prefetch`), else one query for the project's policy."""
    prefetched = getattr(issue, "_prefetched_objects_cache", {}).get("sla_cycles")
    if prefetched is not None:
        current = next((c for c in prefetched if c.number == issue.sla_cycle), None)
        if current is not None:
            return time_left(issue, current.policy.calendar_for(issue.severity), now)
    return times_left([issue], now)[issue.pk]


def deadline_text(issue: Issue, moment: datetime | None, now: datetime | None = None) -> str:
    """A deadline relative to now for e-mails: "in 3 business h 10 min" (the issue's own
    business time, as the SLA box counts it) or "25 min ago" (a passed moment, wall clock)."""
    if moment is None:
        return ""
    now = now or timezone.now()
    if moment <= now:
        return f"{format_duration(now - moment)} ago"
    policy = current_policies([issue.project_id])[issue.project_id]
    calendar = policy.calendar_for(issue.severity)
    left = TimeLeft(
        state=SlaState.ON_TRACK,
        business=not calendar.always,
        remaining=calendar.measure(now, moment),
    )
    return f"in {left.amount_text}"


def current_policies(project_ids: Iterable[int]) -> dict[int, SlaPolicy]:
    """Each project's newest policy version (the one every open cycle runs on), one query;
    an unsaved default for a project that has none yet."""
    ids = sorted(set(project_ids))
    newest: dict[int, SlaPolicy] = {pk: SlaPolicy(project_id=pk, version=0) for pk in ids}
    if ids:
        for policy in _POLICIES.rows(tuple(ids)):
            newest[policy.project_id] = policy
    return newest


_POLICIES: CompiledRead[SlaPolicy] = CompiledRead(
    lambda ids: SlaPolicy.objects.filter(project_id__in=ids).order_by("project_id", "version")
)


def times_left(issues: Iterable[Issue], now: datetime | None = None) -> dict[int, TimeLeft]:
    """`time_left` for many issues with one query for their projects' policies."""
    now = now or timezone.now()
    rows = list(issues)
    open_rows = [i for i in rows if i.status in OPEN_STATUSES]
    policies = current_policies(i.project_id for i in open_rows) if open_rows else {}
    out = {}
    for issue in rows:
        policy = policies.get(issue.project_id) or SlaPolicy(version=0)
        out[issue.pk] = time_left(issue, policy.calendar_for(issue.severity), now)
    return out


def business_horizons(
    policies: dict[int, SlaPolicy],
    now: datetime,
    amount: timedelta,
    *,
    others: SlaPolicy | None = None,
) -> Q:
    """Issues whose running clock has at most `amount` of its own time left: per project,
    the moment its calendar reaches `amount` from now (the same arithmetic as `time_left`,
    turned into column comparisons for SQL ranking and counting)."""

    clock_horizon = now + amount
    by_horizon: dict[tuple[datetime, tuple[int, ...]], list[int]] = {}
    for pk, policy in policies.items():
        business = tuple(sorted(int(s) for s in policy.business_severities))
        horizon = clock_horizon
        if business:
            horizon = policy.calendar_for(business[0]).add(now, amount) or now + HORIZON
        by_horizon.setdefault((horizon, business), []).append(pk)
    condition = Q(pk__in=[])
    for (horizon, business), pks in by_horizon.items():
        condition |= Q(project_id__in=pks) & _within(business, horizon, clock_horizon)
    if others is not None:
        # Projects without a saved policy run on the defaults.
        business = tuple(sorted(int(s) for s in others.business_severities))
        reached = others.calendar_for(business[0]).add(now, amount) if business else clock_horizon
        condition |= ~Q(project_id__in=list(policies)) & _within(
            business, reached or now + HORIZON, clock_horizon
        )
    return condition


def _within(business: tuple[int, ...], horizon: datetime, clock_horizon: datetime) -> Q:
    return Q(severity__in=business, resolution_due_at__lte=horizon) | (
        ~Q(severity__in=business) & Q(resolution_due_at__lte=clock_horizon)
    )
