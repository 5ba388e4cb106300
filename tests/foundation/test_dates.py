"""Dates as people read them: the `when` filter used by every list and timeline."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.template import Context, Template
from django.utils import translation
from django.utils.timesince import timesince

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


def _when(value) -> str:
    return Template("{% load resolve %}{{ value|when }}").render(Context({"value": value}))


@pytest.mark.parametrize(
    ("ago", "text"),
    [
        (timedelta(seconds=30), "0\xa0minutes ago"),
        (timedelta(minutes=1), "1\xa0minute ago"),
        (timedelta(hours=3, minutes=59), "3\xa0hours ago"),
        (timedelta(days=9), "1\xa0week ago"),
        (timedelta(days=45), "1\xa0month ago"),
        (timedelta(days=800), "2\xa0years ago"),
        (-timedelta(hours=2, minutes=1), "in 2\xa0hours"),
    ],
)
def test_when_says_the_largest_unit_and_the_exact_time_on_hover(ago, text):
    with time_machine.travel(NOW, tick=False):
        html = _when(NOW - ago)
    assert f">{text}</time>" in html
    assert f'title="{NOW - ago:%Y-%m-%d %H:%M} UTC"' in html
    assert f'datetime="{(NOW - ago).isoformat()}"' in html


def test_when_follows_the_active_language_after_caching_another():
    with time_machine.travel(NOW, tick=False):
        assert "3\xa0hours" in _when(NOW - timedelta(hours=3))
        with translation.override("de"):
            assert "3\xa0Stunden" in _when(NOW - timedelta(hours=3))


@pytest.mark.parametrize(
    "now",
    [NOW, datetime(2026, 3, 1, 0, 0, 30, tzinfo=UTC), datetime(2028, 2, 29, 23, 59, tzinfo=UTC)],
)
def test_when_says_what_timesince_says_at_every_age(now):
    """`when` works out ages under 28 days itself: the same words as Django's timesince
    (depth 1) for ages around every unit's edges, in the past and in the future."""
    edges = [0, 1, 59, 60, 61, 3599, 3600, 86399, 86400, 604799, 604800]
    edges += [27 * 86400 + 86399, 28 * 86400 - 1, 28 * 86400, 31 * 86400, 400 * 86400]
    ages = [timedelta(seconds=s, microseconds=us) for s in edges for us in (0, 1, 999_999)]
    with time_machine.travel(now, tick=False):
        for age in ages:
            past, future = now - age, now + age
            assert f">{timesince(past, now, depth=1)} ago<" in _when(past), age
            if future > now:
                assert f">in {timesince(now, future, depth=1)}<" in _when(future), age
