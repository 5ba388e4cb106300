"""The open issues are read once for the owners' and the components' groups (GROUPING SETS on
PostgreSQL, a finer grouping summed in Python elsewhere): both must give exactly the groups
of the separate per-owner and per-component aggregates they replaced, on data with breached,
at-risk, paused, on-track and closed issues, components, ages in every bucket and another
project's issues that must not count."""

from datetime import UTC, date, timedelta

import pytest
from django.db.models import Count, Q

from issues.models import Issue, Severity
from projects.services import create_component
from reports.selectors import AGE_BUCKETS, Scope, forecast_condition
from reports.selectors.open_issues import _query_open_groupings
from tests.factories import make_issue
from workflows.issue_use_cases import update_issue
from workflows.selectors import SlaState, annotate_sla_state

from .conftest import FRIDAY_4PM

pytestmark = pytest.mark.django_db

KEYS = ("n", "soon", *(f"b{i}" for i in range(len(AGE_BUCKETS))))


def _reference(scope: Scope, by: str) -> dict:
    """The groups as the dashboard read them before: one grouped query per grouping, the age
    buckets and the forecast as filtered counts."""
    buckets = {}
    for i, (_label, first, last) in enumerate(AGE_BUCKETS):
        cond = Q(created_at__lt=scope.midnight(scope.today - timedelta(days=first - 1)))
        if last is not None:
            cond &= Q(created_at__gte=scope.midnight(scope.today - timedelta(days=last)))
        buckets[f"b{i}"] = Count("pk", filter=cond)
    rows = (
        annotate_sla_state(scope.open_issues(), scope.now)
        .order_by()
        .values(by, "severity", "sla_state")
        .annotate(n=Count("pk"), soon=Count("pk", filter=forecast_condition(scope)), **buckets)
    )
    return {(r[by], r["severity"], r["sla_state"]): tuple(r[k] for k in KEYS) for r in rows}


def _shown(rows: list, by: str) -> dict:
    return {(r[by], r["severity"], r["sla_state"]): tuple(r[k] for k in KEYS) for r in rows}


@pytest.mark.parametrize("grouping_sets", [True, False])
def test_one_pass_gives_the_per_owner_and_per_component_groups(
    time_machine,
    history,
    open_issues,
    project,
    other_project,
    manager,
    outsider,
    reporter,
    developer,
    grouping_sets,
):
    search = create_component(project, actor=manager, name="Search")
    billing = create_component(project, actor=manager, name="Billing")
    update_issue(open_issues["P"], actor=manager, changes={"component": search})
    update_issue(open_issues["R"], actor=manager, changes={"component": billing})
    update_issue(open_issues["T"], actor=manager, changes={"component": billing})
    for n, severity in enumerate(Severity):
        make_issue(project, reporter, title=f"open {n}", component=search, severity=severity)
        make_issue(project, reporter, title=f"mine {n}", severity=severity, owner=developer)
    make_issue(other_project, outsider, title="not visible", severity=Severity.CRITICAL)
    # Ages in every bucket: filed today, 2, 5, 20 and 60 days ago.
    fresh = Issue.objects.filter(Q(title__startswith="open ") | Q(title__startswith="mine "))
    for days, issue in zip((0, 2, 5, 20, 60, 61), fresh.order_by("pk"), strict=False):
        Issue.objects.filter(pk=issue.pk).update(created_at=FRIDAY_4PM - timedelta(days=days))
    scope = Scope(
        user=manager,
        first_day=date(2026, 11, 1),
        last_day=date(2026, 11, 13),
        tz=UTC,
        now=FRIDAY_4PM,
    )
    by_owner, by_component = _query_open_groupings(scope, grouping_sets=grouping_sets)
    assert _shown(by_owner, "owner_id") == _reference(scope, "owner_id")
    assert _shown(by_component, "component_id") == _reference(scope, "component_id")
    names = {r["owner_id"]: r["owner__username"] for r in by_owner}
    assert names[developer.pk] == "developer" and names[None] is None
    states = {r["sla_state"] for r in by_owner}
    assert {SlaState.BREACHED, SlaState.AT_RISK, SlaState.PAUSED, SlaState.ON_TRACK} <= states
    totals = [sum(r[f"b{i}"] for r in by_owner) for i in range(len(AGE_BUCKETS))]
    assert all(totals) and sum(r["soon"] for r in by_owner) > 0
    assert sum(r["n"] for r in by_owner) == scope.open_issues().count()
