"""Issue 17, "Dashboard period": the period selector, the dates and the figures agree — by
default, after choosing a period, after "custom", and with dates but no choice."""

import re
from datetime import UTC, datetime

import pytest
import time_machine

pytestmark = pytest.mark.django_db

TODAY = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


def _range_options(html: str) -> list[str]:
    select = re.search(r'<select name="range".*?</select>', html, re.S).group(0)
    return re.findall(r'<option value="([^"]*)"[^>]*selected', select)


@pytest.mark.parametrize(
    ("query", "choice", "first", "last"),
    [
        ("", "30", "2026-10-20", "2026-11-18"),  # the default: the last 30 days, shown as such
        ("?range=7", "7", "2026-11-12", "2026-11-18"),
        ("?range=90", "90", "2026-08-21", "2026-11-18"),
        ("?range=custom&start=2026-11-01&end=2026-11-10", "custom", "2026-11-01", "2026-11-10"),
        # Dates without a choice are those dates, not silently the last 30 days.
        ("?start=2026-11-02&end=2026-11-09", "custom", "2026-11-02", "2026-11-09"),
        # A period choice wins over stale dates, and the dates then show the chosen period.
        ("?range=7&start=2026-01-01&end=2026-01-31", "7", "2026-11-12", "2026-11-18"),
    ],
)
def test_selector_dates_and_figures_show_the_same_period(
    client, manager, query, choice, first, last
):
    client.force_login(manager)
    with time_machine.travel(TODAY, tick=False):
        response = client.get("/dashboard/" + query)
    html = response.text
    assert response.status_code == 200
    assert _range_options(html) == [choice]
    scope = response.context["scope"]
    assert (scope.first_day.isoformat(), scope.last_day.isoformat()) == (first, last)
    assert f'name="start" value="{first}"' in html
    assert f'value="{last}"' in html


def test_a_bad_custom_period_says_it_fell_back(client, manager):
    client.force_login(manager)
    with time_machine.travel(TODAY, tick=False):
        response = client.get("/dashboard/?range=custom&start=2026-11-10&end=2026-11-01")
    html = response.text
    scope = response.context["scope"]
    assert (scope.first_day.isoformat(), scope.last_day.isoformat()) == (
        "2026-10-20",
        "2026-11-18",
    )
    assert "The last day cannot be before the first day." in html
    assert "showing every project for the last 30 days instead" in html
