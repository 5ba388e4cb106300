"""Business-time arithmetic: the one place that knows about working hours, holidays and DST.

A `BusinessCalendar` is a time zone, working intervals per weekday in local wall-clock minutes
(an interval may span midnight: 22:00-06:00 is ``(1320, 1800)``), explicit holiday dates and
optionally a country whose public holidays (from the ``holidays`` package) also count, or
``always=True`` for 24x7.

Working intervals are built per local day, converted to UTC (so a DST night is as long as it
really is) and merged; every duration is real elapsed time inside working intervals. An
interval that starts on a holiday is skipped as a whole.

Cost is bounded whatever the calendar:

- A week that is open round the clock (00:00-24:00 every day, or intervals that together
  cover every minute) with no holidays *is* 24x7: it takes the same plain-arithmetic path as
  ``always=True``.
- Otherwise the calendar is cut into local years. A year is built once per calendar (its
  merged UTC intervals and their running sums, ~1 ms) and cached; `measure` and `add` are then
  a binary search inside a year plus one subtraction per whole year in between, so a closed
  stretch of months (holidays covering a year) costs nothing more than an open one.
- Nothing searches further than `HORIZON_DAYS` from its start: a deadline that no working time
  within the horizon can reach is ``None`` ("no working time within N days"), never an endless
  loop or an exception in a page.
"""

from __future__ import annotations

import functools
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays as holidays_lib

ZERO = timedelta(0)
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
# How far any search for working time looks (five years: the longest target the SLA form takes,
# 10,000 h, fits in a 40-hour week). Past it a deadline is "not within HORIZON_DAYS days".
HORIZON_DAYS = 1826
HORIZON = timedelta(days=HORIZON_DAYS)

Interval = tuple[datetime, datetime]
WeekHours = tuple[tuple[tuple[int, int], ...], ...]

OFFICE_HOURS: WeekHours = tuple([((9 * 60, 17 * 60),)] * 5 + [()] * 2)


class CalendarError(ValueError):
    pass


def no_working_time_text(days: int = HORIZON_DAYS) -> str:
    return f"no working time within {days} days"


@functools.lru_cache(maxsize=256)
def _country_holidays(country: str, year: int) -> frozenset[date]:
    try:
        return frozenset(holidays_lib.country_holidays(country, years=year).keys())
    except NotImplementedError:
        return frozenset()


def is_known_country(country: str) -> bool:
    return country.upper() in holidays_lib.list_supported_countries()


def week_is_round_the_clock(week: WeekHours) -> bool:
    """True when the intervals of the week, taken together, cover every minute of it."""
    spans: list[tuple[int, int]] = []
    for i, day in enumerate(week):
        for start, end in day:
            s, e = i * MINUTES_PER_DAY + start, i * MINUTES_PER_DAY + end
            if e > MINUTES_PER_WEEK:  # Sunday night running into Monday
                spans += [(s, MINUTES_PER_WEEK), (0, e - MINUTES_PER_WEEK)]
            else:
                spans.append((s, e))
    reached = 0
    for s, e in sorted(spans):
        if s > reached:
            return False
        reached = max(reached, e)
    return reached >= MINUTES_PER_WEEK


@dataclass(frozen=True)
class _Year:
    """One local year of a calendar: merged UTC intervals and the working time before each."""

    lo: datetime  # local midnight of 1 January, in UTC
    hi: datetime  # local midnight of the next 1 January
    starts: tuple[datetime, ...]
    ends: tuple[datetime, ...]
    before: tuple[timedelta, ...]  # working time from `lo` to starts[i]
    upto: tuple[timedelta, ...]  # working time from `lo` to ends[i]
    total: timedelta

    def worked_until(self, moment: datetime) -> timedelta:
        """Working time from `lo` to `moment` (lo <= moment <= hi)."""
        i = bisect_right(self.starts, moment) - 1
        if i < 0:
            return ZERO
        return self.before[i] + min(moment, self.ends[i]) - self.starts[i]

    def moment_at(self, worked: timedelta) -> datetime:
        """The first moment when `worked` (0 < worked <= total) has passed since `lo`; a
        deadline that falls exactly at the end of an interval stays there."""
        i = bisect_left(self.upto, worked)
        return self.starts[i] + (worked - self.before[i])


@dataclass(frozen=True)
class BusinessCalendar:
    time_zone: str = "UTC"
    week: WeekHours = OFFICE_HOURS
    holidays: frozenset[date] = frozenset()
    country: str = ""
    always: bool = False

    def __post_init__(self) -> None:
        ZoneInfo(self.time_zone)  # raises for an unknown zone
        if self.always:
            return
        if len(self.week) != 7:
            raise CalendarError("Working hours need an entry for each of the 7 weekdays.")
        for day in self.week:
            for start, end in day:
                if not (0 <= start < MINUTES_PER_DAY and start < end <= start + MINUTES_PER_DAY):
                    raise CalendarError(f"Bad working interval {start}-{end} (minutes).")
        if not any(self.week):
            raise CalendarError("A business calendar needs some working time.")
        if not self.holidays and not self.country and week_is_round_the_clock(self.week):
            # The fast path: open every minute of every week is plain elapsed time.
            object.__setattr__(self, "always", True)

    # --- intervals ---------------------------------------------------------------------
    def is_holiday(self, day: date) -> bool:
        if day in self.holidays:
            return True
        return bool(self.country) and day in _country_holidays(self.country.upper(), day.year)

    def day_intervals(self, day: date) -> tuple[Interval, ...]:
        """Working intervals (UTC) that start on this local day."""
        return _day_intervals(self, day)

    def _year_of(self, moment: datetime) -> int:
        return moment.astimezone(ZoneInfo(self.time_zone)).year

    def _year(self, year: int) -> _Year:
        return _build_year(self, year)

    def intervals(self, start: datetime, *, horizon: timedelta = HORIZON) -> Iterator[Interval]:
        """Working intervals in UTC from `start` on (the first one clipped at `start`), up to
        `horizon` later. Intervals are merged within a local year; one that runs over New
        Year's midnight comes as two adjacent pieces."""
        start = _utc(start)
        stop = start + horizon
        if self.always:
            yield (start, stop)
            return
        year = self._year_of(start)
        while True:
            chunk = self._year(year)
            if chunk.lo > stop:
                return
            i = max(bisect_right(chunk.ends, start) - 1, 0)
            for s, e in zip(chunk.starts[i:], chunk.ends[i:], strict=True):
                if e <= start:
                    continue
                if s > stop:
                    return
                yield (max(s, start), e)
            year += 1

    def is_working_time(self, moment: datetime) -> bool:
        """True when `moment` lies in a working interval (ends included)."""
        if self.always:
            return True
        moment = _utc(moment)
        chunk = self._year(self._year_of(moment))
        i = bisect_right(chunk.starts, moment) - 1
        if i >= 0 and moment <= chunk.ends[i]:
            return True
        # The end of the last interval of the previous year (ends are included).
        if i < 0 and moment == chunk.lo:
            previous = self._year(self._year_of(moment) - 1)
            return bool(previous.ends) and previous.ends[-1] == moment
        return False

    def next_working_moment(
        self, start: datetime, *, horizon: timedelta = HORIZON
    ) -> datetime | None:
        """The first working moment at or after `start` within `horizon` (None: none)."""
        start = _utc(start)
        if self.always:
            return start
        for s, e in self.intervals(start, horizon=horizon):
            if e > s:
                return s
        return None

    # --- arithmetic --------------------------------------------------------------------
    def add(self, start: datetime, amount: timedelta) -> datetime | None:
        """The moment when `amount` of working time has passed since `start`; None when it
        is not reached within `HORIZON_DAYS` days of `start`."""
        return self.add_many(start, [amount])[0]

    def add_many(self, start: datetime, amounts: Sequence[timedelta]) -> list[datetime | None]:
        """`add` for several amounts in one walk (deadline plus warnings). Any order."""
        start = _utc(start)
        stop = start + HORIZON
        if self.always:
            return [start + max(a, ZERO) for a in amounts]
        order = sorted(range(len(amounts)), key=amounts.__getitem__)
        out: list[datetime | None] = [start] * len(amounts)
        k = 0
        while k < len(order) and amounts[order[k]] <= ZERO:
            k += 1
        year = self._year_of(start)
        chunk = self._year(year)
        offset = chunk.worked_until(start)  # working time of this year before `start`
        consumed = -offset  # working time since `start` at the beginning of `chunk`
        while k < len(order) and chunk.lo <= stop:
            wanted = amounts[order[k]] - consumed
            if wanted > chunk.total:  # not in this year: skip it whole
                consumed += chunk.total
                year += 1
                chunk = self._year(year)
                continue
            at = chunk.moment_at(wanted)
            if at > stop:
                break
            out[order[k]] = at
            k += 1
        for j in order[k:]:
            out[j] = None
        return out

    def measure(self, start: datetime, end: datetime) -> timedelta:
        """Working time between two moments (zero when `end` is not after `start`)."""
        start, end = _utc(start), _utc(end)
        if end <= start:
            return ZERO
        if self.always:
            return end - start
        first, last = self._year_of(start), self._year_of(end)
        if first == last:
            chunk = self._year(first)
            return chunk.worked_until(end) - chunk.worked_until(start)
        head = self._year(first)
        total = head.total - head.worked_until(start)
        for year in range(first + 1, last):
            total += self._year(year).total
        return total + self._year(last).worked_until(end)


@functools.lru_cache(maxsize=65536)
def _day_intervals(calendar: BusinessCalendar, day: date) -> tuple[Interval, ...]:
    if calendar.is_holiday(day):
        return ()
    zone = ZoneInfo(calendar.time_zone)
    midnight = datetime.combine(day, time(0), tzinfo=zone)
    out = []
    for start, end in sorted(calendar.week[day.weekday()]):
        # Aware arithmetic with one tzinfo is wall-clock arithmetic: 09:00 is 09:00 local on a
        # DST day; converting to UTC afterwards gives the real instant.
        s = (midnight + timedelta(minutes=start)).astimezone(UTC)
        e = (midnight + timedelta(minutes=end)).astimezone(UTC)
        if e > s:
            out.append((s, e))
    return tuple(out)


@functools.lru_cache(maxsize=512)
def _build_year(calendar: BusinessCalendar, year: int) -> _Year:
    zone = ZoneInfo(calendar.time_zone)
    lo = datetime(year, 1, 1, tzinfo=zone).astimezone(UTC)
    hi = datetime(year + 1, 1, 1, tzinfo=zone).astimezone(UTC)
    # The last day of the previous year: its intervals may run past midnight into this one.
    day = date(year, 1, 1) - timedelta(days=1)
    last = date(year, 12, 31)
    merged: list[list[datetime]] = []
    while day <= last:
        for s, e in calendar.day_intervals(day):
            s, e = max(s, lo), min(e, hi)
            if e <= s:
                continue
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        day += timedelta(days=1)
    before, upto = [], []
    total = ZERO
    for s, e in merged:
        before.append(total)
        total += e - s
        upto.append(total)
    return _Year(
        lo=lo,
        hi=hi,
        starts=tuple(s for s, _ in merged),
        ends=tuple(e for _, e in merged),
        before=tuple(before),
        upto=tuple(upto),
        total=total,
    )


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("Business-time arithmetic needs aware datetimes.")
    return moment.astimezone(UTC)


def format_duration(amount: timedelta, *, seconds: bool = False) -> str:
    """'3 h 12 min', '2 d 4 h', '45 min' (wall-clock or 24x7 time: days of 24 h; used for
    countdowns and tables). `seconds`: show them under an hour ('19 min 48 s', for targets)."""
    total = int(abs(amount).total_seconds())
    minutes, secs = divmod(total, 60)
    days, rest = divmod(minutes, MINUTES_PER_DAY)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    if seconds and secs:
        return f"{mins} min {secs} s" if mins else f"{secs} s"
    return f"{mins} min"


def format_business_duration(amount: timedelta) -> str:
    """Business time in business units, never calendar days: '24 business h',
    '26 business h 30 min', '19 business min 48 s'. (A business day's length depends on the
    calendar, so hours are the unit a reader can check against the target.)"""
    seconds = int(abs(amount).total_seconds())
    hours, rest = divmod(seconds, 3600)
    mins, secs = divmod(rest, 60)
    if hours:
        return f"{hours} business h {mins} min" if mins else f"{hours} business h"
    if mins:
        return f"{mins} business min {secs} s" if secs else f"{mins} business min"
    return f"{secs} business s" if secs else "0 business min"
