"""The dashboard's links are built from the scope's pairs encoded once per page: each must be
exactly what `urlencode` of the same pairs gave (the old construction, kept here)."""

from datetime import date
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone

from reports.dashboard import OPEN_PARAMS, drill_url, filter_params, issue_list_url, scope_params
from reports.selectors import Scope

from .conftest import NOW

pytestmark = pytest.mark.django_db


def _old_issue_list_url(scope, params):
    given = {k for k, _ in params}
    merged = [p for p in scope_params(scope) if p[0] not in given] + params
    return f"{reverse('issue_list')}?{urlencode(merged)}"


def _old_drill_url(scope, metric, **params):
    given = set(params)
    base = [p for p in filter_params(scope) if p[0] not in given]
    extra = [(k, str(v)) for k, v in params.items() if v not in (None, "")]
    return f"{reverse('reports:drill')}?{urlencode([*base, ('metric', metric), *extra])}"


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"project_ids": (3, 1), "team_id": 7, "type": "bug", "severity": 4},
        {"type": "ui/ux & more", "severity": 2},
    ],
)
def test_links_are_the_urlencoded_pairs(manager, filters):
    scope = Scope(
        user=manager,
        first_day=date(2026, 11, 1),
        last_day=date(2026, 11, 18),
        tz=timezone.get_current_timezone(),
        now=NOW,
        **filters,
    )
    lists = [
        OPEN_PARAMS,
        [("sla", "breached")],
        [("owner", "12"), *OPEN_PARAMS],
        [("severity", "3"), ("created_after", "2026-11-01"), ("created_before", "2026-11-02")],
        [("type", "task"), ("q", "a b+c/é")],
    ]
    for params in lists:
        for _ in range(2):  # the second time from the page's memo
            assert issue_list_url(scope, params) == _old_issue_list_url(scope, params)
    drills = [
        ("finished", {}),
        ("finished", {"priority": 3, "severity": 4, "outcome": "missed"}),
        ("finished", {"week": "2026-11-09", "response_measured": 1}),
        ("finished", {"type": "bug", "cause": None, "outcome": ""}),
        ("stage", {"stage": "revise"}),
        ("forecast", {}),
    ]
    for metric, params in drills:
        for _ in range(2):
            assert drill_url(scope, metric, **params) == _old_drill_url(scope, metric, **params)
