"""One rule for "is this moment inside business hours": `BusinessCalendar.is_working_time` (the
question pages and previews ask) and the SLA arithmetic (`measure`, which deadlines are made
of) agree at every quarter hour of two weeks across a DST change, a holiday and a night shift:
a moment is working time exactly when working time accrues right around it."""

from datetime import UTC, date, datetime, timedelta

import pytest

from workflows.businesstime import BusinessCalendar

SECOND = timedelta(seconds=1)
CALENDARS = {
    "office hours in Berlin with a holiday": BusinessCalendar(
        time_zone="Europe/Berlin", holidays=frozenset({date(2026, 3, 31)})
    ),
    "a night shift in New York": BusinessCalendar(
        time_zone="America/New_York",
        week=tuple(((22 * 60, 30 * 60),) if d < 5 else () for d in range(7)),
    ),
}


@pytest.mark.parametrize("name", CALENDARS)
def test_working_time_and_the_arithmetic_agree(name):
    calendar = CALENDARS[name]
    start = datetime(2026, 3, 23, tzinfo=UTC)  # the week before and after the EU DST change
    moments = [start + timedelta(minutes=15 * i) for i in range(14 * 24 * 4)]
    working = [m for m in moments if calendar.is_working_time(m)]
    assert 0 < len(working) < len(moments)
    for moment in moments:
        accrues = calendar.measure(moment - SECOND, moment + SECOND) > timedelta(0)
        assert calendar.is_working_time(moment) == accrues, moment
