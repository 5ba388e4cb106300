"""The project copied onto SLA cycles and status stays (what the dashboard's period filters
read): written by the workflow services, backfilled by the migration, and one project's
dashboard counts none of another project's rows."""

from datetime import date
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from issues.models import Issue
from projects.models import Role
from reports import selectors
from reports.selectors import Scope
from tests.factories import MembershipFactory, make_issue
from workflows.models import SlaCycle, StatusPeriod
from workflows.services import transition_issue

from .conftest import NOW, at


def test_cycles_and_stays_carry_the_project_of_their_issue(history, project):
    cycles = list(SlaCycle.objects.select_related("issue"))
    stays = list(StatusPeriod.objects.select_related("issue"))
    assert len(cycles) == 5  # B was reopened: a second cycle
    assert len(stays) > len(cycles)
    assert {(c.project_id, c.issue.project_id) for c in cycles} == {(project.pk, project.pk)}
    assert {(s.project_id, s.issue.project_id) for s in stays} == {(project.pk, project.pk)}


def test_a_project_filter_leaves_out_the_other_projects_rows(
    history, manager, other_project, reporter, time_machine
):
    """The manager sees both projects; the other one has a cycle and a stay in the period."""
    MembershipFactory(project=other_project, user=manager, role=Role.MANAGER)
    MembershipFactory(project=other_project, user=reporter, role=Role.REPORTER)
    time_machine.move_to(at(12, 9), tick=False)
    other = make_issue(other_project, reporter, title="Other project's issue")
    time_machine.move_to(at(12, 11), tick=False)
    transition_issue(other, "closed", actor=manager, resolution="wont_fix")
    time_machine.move_to(NOW, tick=False)
    utc = ZoneInfo("UTC")

    def scope(*project_ids):
        first, last = date(2026, 11, 9), date(2026, 11, 18)
        return Scope(
            user=manager, first_day=first, last_day=last, tz=utc, now=NOW, project_ids=project_ids
        )

    both, web, ops = scope(), scope(history["A"].project_id), scope(other_project.pk)
    finished = {s: selectors.total(selectors.compliance_grid(s))["finished"] for s in (both, web)}
    assert finished == {both: 6, web: 5}
    assert selectors.total(selectors.compliance_grid(ops))["finished"] == 1
    assert [i.key for i in selectors.drill_issues(ops, "finished", {})] == ["OPS-1"]


@pytest.mark.django_db(transaction=True)
def test_the_migration_backfills_the_project_of_existing_rows(project, reporter):
    issue = make_issue(project, reporter, title="Filed before the column existed")
    executor = MigrationExecutor(connection)
    before = [("workflows", "0004_statusperiod_left_at_index")]
    latest = executor.loader.graph.leaf_nodes("workflows")
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        assert not any(
            f.name == "project" for f in old.get_model("workflows", "SlaCycle")._meta.fields
        )
        cycle = old.get_model("workflows", "SlaCycle").objects.get(issue_id=issue.pk)
        old.get_model("workflows", "StatusPeriod").objects.create(
            issue_id=issue.pk, cycle=1, status="assigned", entered_at=cycle.started_at
        )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
    assert set(SlaCycle.objects.values_list("issue_id", "project_id")) == {(issue.pk, project.pk)}
    assert set(StatusPeriod.objects.values_list("issue_id", "project_id")) == {
        (issue.pk, project.pk)
    }
    assert Issue.objects.get(pk=issue.pk).project_id == project.pk


def test_archived_issues_count_in_no_metric_of_the_period(history, manager):
    """Archived issues are invisible (`issues_visible_to`): their cycles and stays too, with
    and without the filters that join the issue."""
    utc = ZoneInfo("UTC")

    def figures(**filters):
        scope = Scope(
            user=manager,
            first_day=date(2026, 11, 9),
            last_day=date(2026, 11, 18),
            tz=utc,
            now=NOW,
            **filters,
        )
        stays = {r["status"]: r["n"] for r in selectors.stage_medians(scope)}
        finished = selectors.total(selectors.compliance_grid(scope))["finished"]
        return finished, stays

    before, critical_before = figures(), figures(severity=4)
    Issue.objects.filter(pk=history["B"].pk).update(archived_at=NOW)  # B: two cycles, Critical
    after, critical_after = figures(), figures(severity=4)
    assert (before[0], after[0]) == (5, 3)
    assert (critical_before[0], critical_after[0]) == (2, 0)
    # B's stays (two cycles: Assigned, Revise, Retest and Fixed twice each) are gone.
    assert {k: before[1][k] - after[1][k] for k in before[1]} == dict.fromkeys(
        ["assigned", "revise", "retest", "fixed"], 2
    )
    assert sum(critical_after[1].values()) == 0
