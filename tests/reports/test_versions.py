"""A version's page: open/closed counts, SLA compliance (the dashboard's rule) and what is
still open; the dashboard's compliance and workload by component."""

from datetime import date

import pytest
from django.urls import reverse

from projects.services import create_component, create_version
from reports import selectors
from reports.shape import by_component, version_figures
from tests.factories import make_issue
from tests.reports.test_metrics import scope_for
from workflows.issue_use_cases import update_issue

pytestmark = pytest.mark.django_db


def test_version_page_figures(client, history, project, manager, reporter, outsider):
    version = create_version(project, actor=manager, name="2.5", due_date=date(2026, 11, 30))
    other = create_version(project, actor=manager, name="2.6")
    # A (1 cycle, met) and B (2 cycles: missed, then met) are planned for 2.5, C for 2.6.
    for issue in (history["A"], history["B"]):
        update_issue(issue, actor=manager, changes={"fix_version": version})
    update_issue(history["C"], actor=manager, changes={"fix_version": other})
    still = make_issue(project, reporter, title="D still broken", fix_version=version)
    make_issue(project, reporter, title="F affects it", affected_version=version)

    figures = version_figures(manager, version)
    assert (figures.open, figures.closed, figures.affected) == (1, 2, 1)
    assert (figures.compliance["finished"], figures.compliance["met"]) == (3, 2)
    assert figures.compliance["met_pct"] == 66.7
    assert [i.pk for i in figures.still_open] == [still.pk]
    assert figures.days_left == 12

    client.force_login(manager)
    page = client.get(reverse("version_detail", args=[project.key, version.pk])).content.decode()
    assert 'id="version-open">1<' in page and 'id="version-closed">2<' in page
    assert "66.7 %" in page and "2 of 3 finished cycles met" in page
    assert "D still broken" in page and "in 12 days" in page
    client.force_login(outsider)
    hidden = client.get(reverse("version_detail", args=[project.key, version.pk]))
    assert hidden.status_code == 404 and "D still broken" not in hidden.content.decode()


def test_version_compliance_is_the_dashboards_compliance_of_its_issues(history, project, manager):
    version = create_version(project, actor=manager, name="all")
    for issue in history.values():
        update_issue(issue, actor=manager, changes={"fix_version": version})
    everything = selectors.total(
        selectors.compliance_grid(scope_for(manager, first=date(2000, 1, 1)))
    )
    assert version_figures(manager, version).compliance == everything


def test_dashboard_groups_compliance_and_workload_by_component(
    client, history, project, manager, reporter, developer
):
    search = create_component(project, actor=manager, name="Search")
    update_issue(history["C"], actor=manager, changes={"component": search})
    update_issue(history["A"], actor=manager, changes={"component": search})
    make_issue(project, reporter, title="open search", component=search, owner=developer)
    rows = {r["name"]: r for r in by_component(scope_for(manager))}
    assert rows["WEB · Search"]["open"] == 1
    assert rows["WEB · Search"]["finished"] == 2 and rows["WEB · Search"]["met"] == 2
    assert rows["None"]["finished"] >= 1
    client.force_login(manager)
    page = client.get(reverse("reports:dashboard")).content.decode()
    assert "Compliance and workload by component" in page and "WEB · Search" in page
