"""Business-time arithmetic: the one place that knows about working hours, holidays and DST.

A `BusinessCalendar` is a time zone, working intervals per weekday in local wall-clock minutes
(an interval may span midnight: 22:00-06:00 is ``(1320, 1800)``), explicit holiday dates and
optionally a country whose public holidays (from the ``holidays`` package) also count, or
``always=True`` for 24x7.

Working intervals are built per local day, converted to UTC (so a DST night is as long as it
really is) and merged; every duration is real elapsed time inside working intervals. An
interval that starts on a holiday is skipped as a whole.

Arithmetic walks whole intervals (never minute by minute); the intervals of a day are cached
per calendar, so recomputing thousands of issues on the same calendar is cheap.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays as holidays_lib

ZERO = timedelta(0)
MINUTES_PER_DAY = 24 * 60
# A calendar that has no working time for this many consecutive days is considered broken.
MAX_IDLE_DAYS = 400

Interval = tuple[datetime, datetime]
WeekHours = tuple[tuple[tuple[int, int], ...], ...]

OFFICE_HOURS: WeekHours = tuple([((9 * 60, 17 * 60),)] * 5 + [()] * 2)


class CalendarError(ValueError):
    pass


@functools.lru_cache(maxsize=256)
def _country_holidays(country: str, year: int) -> frozenset[date]:
    try:
        return frozenset(holidays_lib.country_holidays(country, years=year).keys())
    except NotImplementedError:
        return frozenset()


def is_known_country(country: str) -> bool:
    return country.upper() in holidays_lib.list_supported_countries()


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

    # --- intervals ---------------------------------------------------------------------
    def is_holiday(self, day: date) -> bool:
        if day in self.holidays:
            return True
        return bool(self.country) and day in _country_holidays(self.country.upper(), day.year)

    def day_intervals(self, day: date) -> tuple[Interval, ...]:
        """Working intervals (UTC) that start on this local day."""
        return _day_intervals(self, day)

    def intervals(self, start: datetime) -> Iterator[Interval]:
        """Merged working intervals in UTC from `start` on (the first one clipped at `start`)."""
        start = _utc(start)
        day = start.astimezone(ZoneInfo(self.time_zone)).date() - timedelta(days=1)
        pending: Interval | None = None
        idle = 0
        while True:
            todays = self.day_intervals(day)
            idle = 0 if todays else idle + 1
            if idle > MAX_IDLE_DAYS:
                raise CalendarError("No working time found in over a year.")
            for s, e in todays:
                if pending is not None and s <= pending[1]:
                    pending = (pending[0], max(pending[1], e))
                    continue
                if pending is not None and pending[1] > start:
                    yield (max(pending[0], start), pending[1])
                pending = (s, e)
            day += timedelta(days=1)

    def is_working_time(self, moment: datetime) -> bool:
        """True when `moment` lies in a working interval (ends included)."""
        if self.always:
            return True
        moment = _utc(moment)
        for s, e in self.intervals(moment - timedelta(days=2)):
            if s > moment:
                return False
            if s <= moment <= e:
                return True
        return False  # pragma: no cover - intervals() never ends

    # --- arithmetic --------------------------------------------------------------------
    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The moment when `amount` of working time has passed since `start`."""
        return self.add_many(start, [amount])[0]

    def add_many(self, start: datetime, amounts: Sequence[timedelta]) -> list[datetime]:
        """`add` for several amounts in one walk (deadline plus warnings). Any order."""
        start = _utc(start)
        if self.always:
            return [start + max(a, ZERO) for a in amounts]
        order = sorted(range(len(amounts)), key=amounts.__getitem__)
        out: list[datetime] = [start] * len(amounts)
        k = 0
        while k < len(order) and amounts[order[k]] <= ZERO:
            k += 1
        if k == len(order):
            return out
        consumed = ZERO
        for s, e in self.intervals(start):
            length = e - s
            while k < len(order) and amounts[order[k]] <= consumed + length:
                out[order[k]] = s + (amounts[order[k]] - consumed)
                k += 1
            if k == len(order):
                break
            consumed += length
        return out

    def measure(self, start: datetime, end: datetime) -> timedelta:
        """Working time between two moments (zero when `end` is not after `start`)."""
        start, end = _utc(start), _utc(end)
        if end <= start:
            return ZERO
        if self.always:
            return end - start
        total = ZERO
        for s, e in self.intervals(start):
            if s >= end:
                break
            total += min(e, end) - s
            if e >= end:
                break
        return total


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


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("Business-time arithmetic needs aware datetimes.")
    return moment.astimezone(UTC)


def format_duration(amount: timedelta) -> str:
    """'3 h 12 min', '2 d 4 h', '45 min' (days of 24 h; used for countdowns and tables)."""
    minutes = int(abs(amount).total_seconds() // 60)
    days, rest = divmod(minutes, MINUTES_PER_DAY)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"
