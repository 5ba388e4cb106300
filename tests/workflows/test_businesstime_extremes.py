"""Calendars at their extremes (issue 20): round-the-clock weeks, long closed stretches,
random calendars from a hypothesis strategy held to a plain day-by-day reference walk, and a
time budget so that no calendar can stall a request."""

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.workflows.calendar_work import counted_work
from workflows.businesstime import (
    HORIZON,
    HORIZON_DAYS,
    ZERO,
    BusinessCalendar,
    _country_holidays,
    week_is_round_the_clock,
)

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
ROUND_THE_CLOCK = (((0, 24 * 60),),) * 7


def _interval():
    return st.tuples(st.integers(0, 24 * 60 - 1), st.integers(1, 24 * 60)).map(
        lambda t: (t[0], t[0] + t[1])
    )


@st.composite
def calendars(draw):
    """Any calendar the SLA form can produce: 0-3 intervals a day (some spanning midnight,
    some overlapping), closed days, a zone with DST, explicit holidays (sometimes a whole
    closed year), sometimes a country's public holidays."""
    week = tuple(tuple(draw(st.lists(_interval(), max_size=3))) for _ in range(7))
    if not any(week):
        week = ((draw(_interval()),),) + week[1:]
    holidays: set[date] = set(
        draw(st.lists(st.dates(date(2025, 1, 1), date(2029, 12, 31)), max_size=20))
    )
    if draw(st.booleans()):
        first = draw(st.dates(date(2025, 1, 1), date(2027, 12, 31)))
        holidays |= {first + timedelta(days=i) for i in range(draw(st.integers(1, 400)))}
    return BusinessCalendar(
        time_zone=draw(st.sampled_from(ZONES)),
        week=week,
        holidays=frozenset(holidays),
        country=draw(st.sampled_from(["", "", "DE", "US"])),
    )


moments = st.datetimes(
    min_value=datetime(2025, 6, 1),  # noqa: DTZ001
    max_value=datetime(2027, 6, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
amounts = st.integers(min_value=1, max_value=300 * 3600).map(lambda s: timedelta(seconds=s))


def _reference_intervals(cal: BusinessCalendar, start: datetime):
    """The plain walk: every local day's intervals, merged, from the day before `start`."""
    day = start.astimezone(cal_zone(cal)).date() - timedelta(days=1)
    pending = None
    limit = start + HORIZON + timedelta(days=3)
    while True:
        for s, e in cal.day_intervals(day):
            if pending is not None and s <= pending[1]:
                pending = (pending[0], max(pending[1], e))
                continue
            if pending is not None and pending[1] > start:
                yield (max(pending[0], start), pending[1])
            pending = (s, e)
        day += timedelta(days=1)
        if pending is not None and pending[0] > limit:
            return


def cal_zone(cal):
    from zoneinfo import ZoneInfo

    return ZoneInfo(cal.time_zone)


def reference_measure(cal, start, end):
    total = ZERO
    for s, e in _reference_intervals(cal, start):
        if s >= end:
            break
        total += min(e, end) - s
    return total


def reference_add(cal, start, amount):
    consumed = ZERO
    for s, e in _reference_intervals(cal, start):
        if s > start + HORIZON:
            return None
        if consumed + (e - s) >= amount:
            at = s + (amount - consumed)
            return at if at <= start + HORIZON else None
        consumed += e - s
    return None


@settings(max_examples=60, deadline=None)
@given(calendars(), moments, amounts)
def test_add_and_measure_agree_with_the_day_by_day_walk(cal, start, amount):
    at = cal.add(start, amount)
    assert at == reference_add(cal, start, amount)
    if at is not None:
        assert cal.measure(start, at) == amount
        assert reference_measure(cal, start, at) == amount
        assert cal.is_working_time(at)


@settings(max_examples=60, deadline=None)
@given(calendars(), moments, st.integers(0, 800 * 24 * 3600))
def test_measure_agrees_with_the_walk_and_is_additive(cal, start, seconds):
    end = start + timedelta(seconds=seconds)
    middle = start + timedelta(seconds=seconds // 3)
    whole = cal.measure(start, end)
    assert whole == reference_measure(cal, start, end)
    assert whole == cal.measure(start, middle) + cal.measure(middle, end)


@settings(max_examples=40, deadline=None)
@given(calendars(), moments, st.lists(amounts, min_size=1, max_size=5))
def test_add_many_equals_add_one_by_one(cal, start, several):
    assert cal.add_many(start, several) == [cal.add(start, a) for a in several]


@settings(max_examples=80, deadline=None)
@given(calendars(), moments, amounts)
def test_no_calendar_takes_long(cal, start, amount):
    # Loading a country's holiday rules the first time (~0.1 s, once per process) is not the
    # arithmetic under test.
    for year in range(2024, 2034):
        _country_holidays("DE", year)
        _country_holidays("US", year)
    with counted_work() as work:
        cal.add_many(start, [amount, amount / 2, amount * 10])
        cal.measure(start, start + timedelta(days=3 * 365))
    # Work, not wall-clock time (timings are `make bench`'s): each local year is built once,
    # day by day, and then searched; the horizon bounds the years. The minute-by-minute walk
    # this replaced touched every minute of them.
    assert work.years <= HORIZON_DAYS // 365 + 3
    assert work.days <= work.years * 367


def test_round_the_clock_week_is_the_24x7_fast_path():
    cal = BusinessCalendar(time_zone="Europe/Berlin", week=ROUND_THE_CLOCK)
    assert cal.always
    start = datetime(2026, 3, 28, 12, tzinfo=UTC)  # across the spring DST change
    assert cal.add(start, timedelta(hours=48)) == start + timedelta(hours=48)
    assert cal.measure(start, start + timedelta(days=900)) == timedelta(days=900)
    # Intervals that only together cover the week (a night shift and a day shift) too.
    shifts = (((0, 8 * 60), (8 * 60, 22 * 60), (22 * 60, 24 * 60 + 60)),) * 7
    assert week_is_round_the_clock(shifts)
    assert not week_is_round_the_clock((((0, 23 * 60),),) * 7)


def test_round_the_clock_with_holidays_is_fast_and_right():
    cal = BusinessCalendar(
        time_zone="Europe/Berlin", week=ROUND_THE_CLOCK, holidays=frozenset({date(2026, 12, 25)})
    )
    assert not cal.always
    with counted_work() as work:
        _round_the_clock_adds(cal)
    # 2,000 additions of 500 h over a few weeks: two local years built, each day once.
    assert work.years <= 2
    assert work.days <= 2 * 367


def _round_the_clock_adds(cal):
    start = datetime(2026, 12, 24, 12, tzinfo=UTC)
    # 11 h left on the 24th (Berlin midnight is 23:00 UTC), the 25th off, then on.
    assert cal.add(start, timedelta(hours=12)) == datetime(2026, 12, 25, 23, 0, tzinfo=UTC) + (
        timedelta(hours=1)
    )
    for i in range(2000):
        cal.add(start + timedelta(minutes=i), timedelta(hours=500))


def test_a_year_of_holidays_is_skipped_not_walked():
    year = frozenset(date(2026, 1, 1) + timedelta(days=i) for i in range(365))
    cal = BusinessCalendar(time_zone="Europe/Berlin", holidays=year)
    with counted_work() as work:
        _a_closed_year(cal)
    # A closed year is built once (365 days looked at), not walked again by each addition.
    assert work.years <= 2
    assert work.days <= 2 * 367


def _a_closed_year(cal):
    at = cal.add(datetime(2026, 1, 1, tzinfo=UTC), timedelta(hours=4))
    # 2027-01-01 is a Friday: 09:00-13:00 Berlin.
    assert at == datetime(2027, 1, 1, 12, 0, tzinfo=UTC)
    assert cal.measure(datetime(2026, 1, 1, tzinfo=UTC), at) == timedelta(hours=4)
    assert cal.next_working_moment(datetime(2026, 3, 1, tzinfo=UTC)) == datetime(
        2027, 1, 1, 8, 0, tzinfo=UTC
    )
    for i in range(1000):
        cal.add(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=i), timedelta(hours=100))


def test_nothing_within_the_horizon_is_none_not_an_error():
    closed = frozenset(date(2026, 1, 1) + timedelta(days=i) for i in range(HORIZON_DAYS + 400))
    cal = BusinessCalendar(time_zone="UTC", holidays=closed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert cal.add(start, timedelta(minutes=1)) is None
    assert cal.add_many(start, [ZERO, timedelta(hours=1)]) == [start, None]
    assert cal.next_working_moment(start) is None
    assert cal.measure(start, start + timedelta(days=HORIZON_DAYS)) == ZERO
    assert not cal.is_working_time(start + timedelta(days=30, hours=10))
