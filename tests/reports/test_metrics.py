"""Every metric of the dashboard against values computed by hand from the histories in
conftest.py (all durations in hours; H = 3600 s)."""

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from reports import selectors
from reports.selectors import Scope

from .conftest import NOW

H = 3600.0
UTC = ZoneInfo("UTC")


def scope_for(user, first=date(2026, 11, 9), last=date(2026, 11, 18), tz=UTC, **kw):
    return Scope(user=user, first_day=first, last_day=last, tz=tz, now=NOW, **kw)


@pytest.fixture
def scope(history, manager):
    return scope_for(manager)


def test_compliance_overall_and_per_priority_and_severity(scope):
    grid = selectors.compliance_grid(scope)
    cells = {
        (r["priority"], r["severity"]): (
            r["finished"],
            r["met"],
            r["met_pct"],
            r["responded"],
            r["response_met"],
            r["response_pct"],
        )
        for r in grid
    }
    assert cells == {
        # B: cycle 1 missed both targets, cycle 2 (reopen) met and has no response target.
        (3, 4): (2, 1, 50.0, 1, 0, 0.0),
        (2, 2): (1, 1, 100.0, 1, 1, 100.0),  # A
        (2, 1): (1, 1, 100.0, 0, 0, None),  # E: dismissed before anyone responded
        (1, 3): (1, 1, 100.0, 1, 1, 100.0),  # C: over a weekend, still met
    }
    overall = selectors.total(grid)
    assert (overall["finished"], overall["met"], overall["met_pct"]) == (5, 4, 80.0)
    assert (overall["responded"], overall["response_met"], overall["response_pct"]) == (3, 2, 66.7)


def test_compliance_trend_per_week(scope):
    weeks = {w["week"]: w for w in selectors.compliance_by_week(scope)}
    assert list(weeks) == [date(2026, 11, 9), date(2026, 11, 16)]
    first, second = weeks[date(2026, 11, 9)], weeks[date(2026, 11, 16)]
    assert (first["finished"], first["met_pct"], first["responded"], first["response_pct"]) == (
        4,
        75.0,
        3,
        66.7,
    )
    assert (second["finished"], second["met_pct"], second["response_pct"]) == (1, 100.0, None)


def test_mtta_and_mttr_per_priority_in_business_time(scope):
    rows = {r["key"]: r for r in selectors.time_to_respond_and_resolve(scope, "priority")}
    high, medium, low = rows[3], rows[2], rows[1]
    # High: B responded after 2.5 h (24x7); resolved in 7 h and, after the reopen, 3 h.
    assert (high["n_respond"], high["mtta_mean"], high["mtta_median"]) == (1, 2.5 * H, 2.5 * H)
    assert (high["n_resolve"], high["mttr_mean"], high["mttr_median"]) == (2, 5 * H, 5 * H)
    # Medium: A responded after 2 h, 17 h on the clock (the hold day excluded); E 1 h.
    assert (medium["n_respond"], medium["mtta_mean"]) == (1, 2 * H)
    assert (medium["n_resolve"], medium["mttr_mean"], medium["mttr_median"]) == (2, 9 * H, 9 * H)
    # Low: C filed Friday 15:00, assigned Monday 10:00 = 2 h + 1 h of business time.
    assert (low["mtta_mean"], low["mttr_mean"]) == (3 * H, 18.5 * H)


def test_mtta_and_mttr_per_severity(scope):
    rows = {r["key"]: r for r in selectors.time_to_respond_and_resolve(scope, "severity")}
    assert rows[4]["mttr_median"] == 5 * H and rows[4]["mtta_median"] == 2.5 * H
    assert rows[3]["mttr_median"] == 18.5 * H and rows[3]["mtta_median"] == 3 * H
    assert rows[2]["mttr_median"] == 17 * H and rows[2]["mtta_median"] == 2 * H
    assert rows[1]["mttr_median"] == 1 * H
    assert rows[1]["n_respond"] == 0 and rows[1]["mtta_median"] is None


def test_stage_medians_and_bottleneck(scope):
    rows = {r["status"]: r for r in selectors.stage_medians(scope)}
    # Assigned stays: A 2, B 0.5, B(reopen) 1, C 0.5
    assert (rows["assigned"]["n"], rows["assigned"]["median"]) == (4, 0.75 * H)
    assert rows["assigned"]["mean"] == pytest.approx(1 * H)
    # Revise: A 48, B 2, B 1, C 24 and 4 (failed retest)
    assert (rows["revise"]["n"], rows["revise"]["median"]) == (5, 4 * H)
    assert rows["revise"]["mean"] == pytest.approx(15.8 * H)
    # Retest: A 21, B 2, B 1, C 2 and 17
    assert (rows["retest"]["n"], rows["retest"]["median"]) == (5, 2 * H)
    # Fixed: A 2, B 1, B 1 (C is still Fixed: its stay has not ended)
    assert (rows["fixed"]["n"], rows["fixed"]["median"]) == (3, 1 * H)
    assert [s for s, r in rows.items() if r["bottleneck"]] == ["revise"]


def test_created_versus_resolved_per_week(scope):
    weeks = {
        w["week"]: (w["created"], w["resolved"])
        for w in selectors.resolved_and_created_by_week(scope)
    }
    # C was filed before the period; A, E, B in the first week.
    assert weeks == {date(2026, 11, 9): (3, 4), date(2026, 11, 16): (0, 1)}


def test_period_boundaries_follow_the_viewer_time_zone(history, manager):
    # B was filed on Friday 13th at 23:30 UTC: Saturday 14th at 00:30 in Berlin.
    saturday = date(2026, 11, 14)
    utc = scope_for(manager, first=saturday, last=saturday)
    berlin = scope_for(manager, first=saturday, last=saturday, tz=ZoneInfo("Europe/Berlin"))
    assert sum(w["created"] for w in selectors.resolved_and_created_by_week(utc)) == 0
    assert sum(w["created"] for w in selectors.resolved_and_created_by_week(berlin)) == 1
    friday = date(2026, 11, 13)
    assert (
        sum(
            w["created"]
            for w in selectors.resolved_and_created_by_week(
                scope_for(manager, first=friday, last=friday)
            )
        )
        == 1
    )


def test_breaches_by_type_and_root_cause(scope):
    rows = selectors.breaches(scope)
    assert selectors.breaches_by(rows, "type") == [("performance", 1)]
    assert selectors.breaches_by(rows, "root_cause") == [("code", 1)]


def test_lessons_are_searchable(scope, history):
    assert [i.pk for i in selectors.lessons(scope)] == [history["B"].pk, history["A"].pk]
    assert [i.pk for i in selectors.lessons(scope, search="LOAD test")] == [history["B"].pk]
    assert [i.pk for i in selectors.lessons(scope, search="design")] == [history["A"].pk]


def test_filters_narrow_every_metric(history, manager):
    critical = scope_for(manager, severity=4)
    assert selectors.total(selectors.compliance_grid(critical))["finished"] == 2
    bugs = scope_for(manager, type="bug")
    assert selectors.total(selectors.compliance_grid(bugs))["finished"] == 1
    team_only = scope_for(manager, team_id=history["A"].team_id)  # A and C
    assert selectors.total(selectors.compliance_grid(team_only))["finished"] == 2


def test_other_projects_are_invisible(history, outsider):
    scope = scope_for(outsider)
    assert selectors.total(selectors.compliance_grid(scope))["finished"] == 0
    assert selectors.stage_medians(scope)[0]["n"] == 0
    assert selectors.lessons(scope) == []


def test_drill_down_finds_exactly_the_issues_behind_a_number(scope, history):
    keys = lambda qs: sorted(i.key for i in qs)  # noqa: E731
    assert keys(selectors.drill_issues(scope, "finished", {"outcome": "missed"})) == ["WEB-4"]
    assert keys(selectors.drill_issues(scope, "finished", {"priority": "2", "severity": "2"})) == [
        history["A"].key
    ]
    assert keys(selectors.drill_issues(scope, "finished", {"week": "2026-11-16"})) == [
        history["B"].key
    ]
    assert (
        keys(selectors.drill_issues(scope, "finished", {"responded": "1", "severity": "1"})) == []
    )
    assert keys(selectors.drill_issues(scope, "stage", {"stage": "fixed"})) == sorted(
        [history["A"].key, history["B"].key]
    )
    assert keys(
        selectors.drill_issues(scope, "finished", {"cause": "code", "outcome": "missed"})
    ) == [history["B"].key]
    assert keys(selectors.drill_issues(scope, "finished", {"week": "nonsense"})) == []
