"""Right now: breached, at risk, forecast to breach within 4 business hours; workload; ageing."""

from datetime import date
from zoneinfo import ZoneInfo

from reports import selectors
from reports.selectors import Scope

from .conftest import FRIDAY_4PM


def scope_for(user):
    return Scope(
        user=user,
        first_day=date(2026, 11, 1),
        last_day=date(2026, 11, 13),
        tz=ZoneInfo("UTC"),
        now=FRIDAY_4PM,
    )


def test_counts_and_most_urgent_first(open_issues, manager):
    now = selectors.right_now(scope_for(manager))
    assert (now.open, now.breached, now.at_risk, now.paused) == (5, 1, 1, 1)
    # U is due Monday 10:00: within 4 business hours (Fri 16-17, Mon 9-10) though 66 h away.
    # R is due at 18:00 on its 24x7 clock; S (due Saturday 07:00) is not.
    assert now.forecast == 2
    assert [i.title for i in now.urgent] == ["P overdue", "R critical", "U over the weekend"]
    assert [i.sla_state for i in now.urgent] == ["breached", "on_track", "at_risk"]
    assert [i.forecast for i in now.urgent] == [False, True, True]
    # Time left in each issue's own clock: U's 66 wall-clock hours are 2 business hours, as
    # much as R's 2 h of 24x7 time (the earlier deadline first).
    assert [i.time_left.short for i in now.urgent] == [
        "6 d 23 h over",  # due Fri 6th 17:00: a passed moment, wall-clock
        "2 h left",
        "2 business h left",
    ]


def test_forecast_drill_down(open_issues, manager):
    found = selectors.drill_issues(scope_for(manager), "forecast", {})
    assert sorted(i.title for i in found) == ["R critical", "U over the weekend"]


def test_workload_per_owner_weighted_by_severity(open_issues, manager):
    rows = [
        (r["owner__username"], r["open"], r["at_risk"], r["breached"], r["weighted"])
        for r in selectors.workload(scope_for(manager))
    ]
    assert rows == [
        (None, 3, 0, 0, 8 + 8 + 2),  # unassigned: R, S (Critical) and T (Minor)
        ("devon", 1, 1, 0, 4),  # U (Major), at risk
        ("developer", 1, 0, 1, 2),  # P (Minor), breached
    ]


def test_ageing_buckets_per_severity(open_issues, manager):
    rows = {r["label"]: r["buckets"] for r in selectors.ageing(scope_for(manager))}
    assert rows == {
        "Critical": [2, 0, 0, 0, 0],
        "Major": [1, 0, 0, 0, 0],
        "Minor": [1, 0, 0, 1, 0],  # P is 11 days old
        "Trivial": [0, 0, 0, 0, 0],
    }
