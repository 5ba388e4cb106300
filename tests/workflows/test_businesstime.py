"""Business-time arithmetic: properties (hypothesis) and fixed cases across a weekend, a
holiday, a DST change and intervals that span midnight."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.workflows.calendar_work import counted_work
from workflows.businesstime import BusinessCalendar, CalendarError, format_duration

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

OFFICE = BusinessCalendar(time_zone="Europe/Berlin")
NIGHT_SHIFT = BusinessCalendar(
    time_zone="America/New_York",
    week=tuple([((22 * 60, 30 * 60),)] * 5 + [()] * 2),  # 22:00-06:00, Mon-Fri nights
)
SPLIT = BusinessCalendar(
    time_zone="Asia/Kolkata",
    week=(((8 * 60, 12 * 60), (13 * 60, 17 * 60)),) * 5 + (((10 * 60, 14 * 60),), ()),
    holidays=frozenset({date(2026, 12, 24)}),
    country="DE",
)
ALWAYS = BusinessCalendar(always=True)
CALENDARS = [OFFICE, NIGHT_SHIFT, SPLIT, ALWAYS]

# hypothesis takes naive bounds and attaches the zone itself.
moments = st.datetimes(
    min_value=datetime(2025, 1, 1),  # noqa: DTZ001
    max_value=datetime(2028, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
amounts = st.integers(min_value=1, max_value=400 * 3600).map(lambda s: timedelta(seconds=s))
calendars = st.sampled_from(CALENDARS)


@settings(max_examples=150, deadline=None)
@given(calendars, moments, amounts)
def test_add_then_measure_round_trips(cal, start, amount):
    assert cal.measure(start, cal.add(start, amount)) == amount


@settings(max_examples=150, deadline=None)
@given(calendars, moments, amounts)
def test_deadlines_never_fall_outside_working_time(cal, start, amount):
    deadline = cal.add(start, amount)
    assert deadline > start
    assert cal.is_working_time(deadline)


@settings(max_examples=100, deadline=None)
@given(calendars, moments, amounts, amounts)
def test_monotonic_in_the_target(cal, start, a, b):
    small, large = sorted([a, b])
    assert cal.add(start, small) <= cal.add(start, large)


@settings(max_examples=100, deadline=None)
@given(calendars, moments, st.lists(amounts, min_size=1, max_size=5))
def test_add_many_equals_add_one_by_one(cal, start, several):
    assert cal.add_many(start, several) == [cal.add(start, a) for a in several]


@settings(max_examples=100, deadline=None)
@given(calendars, moments, amounts, amounts)
def test_measure_is_additive(cal, start, a, b):
    middle = start + a
    end = middle + b
    assert cal.measure(start, end) == cal.measure(start, middle) + cal.measure(middle, end)


def b(*args):
    return datetime(*args, tzinfo=BERLIN)


def test_friday_afternoon_plus_four_hours_lands_on_monday_morning():
    # 2026-11-27 is a Friday; 2 h left on Friday, 2 h on Monday.
    assert OFFICE.add(b(2026, 11, 27, 15, 0), timedelta(hours=4)) == b(2026, 11, 30, 11, 0)
    assert OFFICE.measure(b(2026, 11, 27, 15, 0), b(2026, 11, 30, 11, 0)) == timedelta(hours=4)


def test_weekend_start_counts_from_monday():
    assert OFFICE.add(b(2026, 11, 28, 12, 0), timedelta(hours=1)) == b(2026, 11, 30, 10, 0)
    assert OFFICE.measure(b(2026, 11, 28, 0, 0), b(2026, 11, 30, 0, 0)) == timedelta(0)


def test_deadline_at_the_end_of_a_working_day_stays_on_that_day():
    assert OFFICE.add(b(2026, 11, 30, 9, 0), timedelta(hours=8)) == b(2026, 11, 30, 17, 0)


def test_holiday_from_the_country_calendar_is_skipped():
    cal = BusinessCalendar(time_zone="Europe/Berlin", country="DE")
    # Thu 2026-12-24 working; Fri 25th and Sat/Sun off; Mon 28th working (26th is Saturday).
    start = b(2026, 12, 24, 16, 0)
    assert cal.add(start, timedelta(hours=2)) == b(2026, 12, 28, 10, 0)
    assert OFFICE.add(start, timedelta(hours=2)) == b(2026, 12, 25, 10, 0)


def test_explicit_holiday_dates():
    cal = BusinessCalendar(time_zone="Europe/Berlin", holidays=frozenset({date(2026, 11, 30)}))
    assert cal.add(b(2026, 11, 27, 16, 0), timedelta(hours=2)) == b(2026, 12, 1, 10, 0)


def test_dst_spring_forward_night_shift_is_one_hour_shorter():
    # America/New_York springs forward on Sunday 2026-03-08 at 02:00 (no shift that night),
    # so use a 24x7 calendar in the zone and a night shift calendar including Saturday night.
    nights = BusinessCalendar(time_zone="America/New_York", week=(((22 * 60, 30 * 60),),) * 7)
    start = datetime(2026, 3, 7, 22, 0, tzinfo=NEW_YORK)
    end = datetime(2026, 3, 8, 6, 0, tzinfo=NEW_YORK)
    assert nights.measure(start, end) == timedelta(hours=7)
    assert nights.add(start, timedelta(hours=7)) == end


def test_dst_autumn_office_day_keeps_local_hours():
    # Berlin falls back on 2026-10-25 (Sunday): Monday still starts at 09:00 local (08:00 UTC).
    friday = b(2026, 10, 23, 16, 0)
    monday_ten = b(2026, 10, 26, 10, 0)
    assert OFFICE.add(friday, timedelta(hours=2)) == monday_ten
    assert monday_ten.astimezone(UTC).hour == 9


def test_interval_spanning_midnight_belongs_to_its_start_day():
    start = datetime(2026, 11, 27, 23, 0, tzinfo=NEW_YORK)  # Friday night shift
    # 7 h left in Friday's shift (until Sat 06:00), then the next shift is Monday 22:00.
    assert NIGHT_SHIFT.add(start, timedelta(hours=8)) == datetime(
        2026, 11, 30, 23, 0, tzinfo=NEW_YORK
    )


def test_24x7_is_plain_arithmetic():
    start = b(2026, 11, 28, 12, 0)
    assert ALWAYS.add(start, timedelta(hours=4)) == start + timedelta(hours=4)
    assert ALWAYS.measure(start, start - timedelta(hours=1)) == timedelta(0)


def test_broken_calendars_are_refused():
    with pytest.raises(CalendarError):
        BusinessCalendar(week=((),) * 7)
    with pytest.raises(CalendarError):
        BusinessCalendar(week=(((600, 500),),) * 7)
    with pytest.raises(Exception):  # noqa: B017 - zoneinfo raises its own error
        BusinessCalendar(time_zone="Mars/Olympus")


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        OFFICE.add(datetime(2026, 1, 1), timedelta(hours=1))  # noqa: DTZ001


def test_long_targets_are_cheap():
    with counted_work() as work:
        for i in range(2000):
            OFFICE.add_many(b(2026, 1, 5, 9, 0) + timedelta(minutes=i), [timedelta(hours=160)] * 3)
    # 6,000 targets of 160 working hours: one local year built (each day once), then searched.
    assert work.years == 1
    assert work.days <= 367


def test_format_duration():
    assert format_duration(timedelta(hours=3, minutes=12)) == "3 h 12 min"
    assert format_duration(timedelta(days=2, hours=4)) == "2 d 4 h"
    assert format_duration(timedelta(minutes=-45)) == "45 min"
    assert format_duration(timedelta(hours=5)) == "5 h"
