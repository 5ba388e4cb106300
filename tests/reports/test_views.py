"""The dashboard page as people use it: access, links to the issue list, CSV, bad filters."""

import csv
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from reports.views import DRILL_KEYS_LIMIT


def rows_of(response):
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_login_required(client, db):
    response = client.get("/dashboard/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_manager_sees_right_now_with_links_to_the_issue_list(
    client, manager, open_issues, django_assert_num_queries
):
    client.force_login(manager)
    with django_assert_num_queries(14):  # 13 for the metrics, the heartbeat
        response = client.get("/dashboard/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<title>Dashboard" in html
    assert 'href="/issues/?sla=breached"' in html
    assert 'href="/issues/?sla=at_risk"' in html
    assert "P overdue" in html and "U over the weekend" in html
    # Strict CSP: no inline styles or scripts, charts are inline SVG.
    assert "style=" not in html
    assert "<script>" not in html
    assert html.count("<svg") >= 7


def test_query_count_does_not_grow_with_data(
    client, manager, history, open_issues, django_assert_num_queries
):
    client.force_login(manager)
    with django_assert_num_queries(14):  # 13 for the metrics, the heartbeat
        client.get("/dashboard/?range=custom&start=2026-11-01&end=2026-11-18")


def test_every_number_links_somewhere(client, manager, history, open_issues):
    client.force_login(manager)
    html = client.get("/dashboard/?range=custom&start=2026-11-09&end=2026-11-18").content.decode()
    links = set(re.findall(r'href="(/(?:issues|dashboard/issues)/\?[^"]+)"', html))
    assert any("metric=finished" in link for link in links)
    assert any("metric=stage" in link for link in links)
    # Ageing links use the issue list's own filters.
    assert any("created_before=" in link and "status=new" in link for link in links)


def test_drill_down_hands_the_exact_keys_to_the_issue_list(client, manager, history):
    client.force_login(manager)
    response = client.get(
        "/dashboard/issues/?metric=finished&outcome=missed&range=custom&start=2026-11-09&end=2026-11-18"
    )
    assert response.status_code == 302
    url = urlsplit(response["Location"])
    assert url.path == "/issues/"
    assert parse_qs(url.query) == {"keys": [history["B"].key]}


def test_drill_down_with_nothing_behind_it_says_so(client, manager, history):
    client.force_login(manager)
    response = client.get(
        "/dashboard/issues/?metric=finished&outcome=missed&range=custom&start=2026-11-17&end=2026-11-18"
    )
    assert response.status_code == 200
    assert "No issues match" in response.content.decode()
    assert client.get("/dashboard/issues/?metric=bogus").status_code == 404
    assert DRILL_KEYS_LIMIT >= 100


def test_csv_download_of_a_table(client, manager, history):
    client.force_login(manager)
    response = client.get(
        "/dashboard/mtt-priority.csv?range=custom&start=2026-11-09&end=2026-11-18"
    )
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    rows = rows_of(response)
    assert rows[0][:3] == ["priority", "cycles_assigned", "mtta_mean_hours"]
    high = next(r for r in rows if r[0] == "3")
    assert high[1:4] == ["1", "2.5", "2.5"] and high[5:7] == ["5.0", "5.0"]
    assert client.get("/dashboard/nothing.csv").status_code == 404


def test_csv_neutralises_formulas(client, manager, history):
    from issues.models import Issue

    Issue.objects.filter(pk=history["A"].pk).update(title="=HYPERLINK(1)")
    client.force_login(manager)
    rows = rows_of(client.get("/dashboard/lessons.csv"))
    assert ["'=HYPERLINK(1)"] == [r[1] for r in rows if r[0] == history["A"].key]


def test_reporter_sees_the_same_dashboard_for_their_projects(client, reporter, open_issues):
    client.force_login(reporter)
    html = client.get("/dashboard/").content.decode()
    assert "P overdue" in html


def test_outsider_sees_nothing_of_another_project(client, outsider, project, open_issues):
    client.force_login(outsider)
    html = client.get("/dashboard/").content.decode()
    assert "P overdue" not in html
    response = client.get(f"/dashboard/?project={project.pk}")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Select a valid choice" in html and "P overdue" not in html
    found = client.get(f"/dashboard/issues/?metric=forecast&project={project.pk}")
    assert found.status_code == 200 and "R critical" not in found.content.decode()


@pytest.mark.parametrize(
    "query, message",
    [
        ("range=custom", "Choose the first day of the period."),
        ("range=custom&start=2026-11-10&end=2026-11-01", "cannot be before the first day"),
        ("range=custom&start=2024-01-01&end=2026-11-01", "Choose at most 366 days."),
        ("range=custom&start=yesterday&end=2026-11-01", "Enter a valid date."),
        ("severity=9", "Select a valid choice"),
    ],
)
def test_bad_filters_are_explained_next_to_the_field(client, manager, query, message):
    client.force_login(manager)
    response = client.get(f"/dashboard/?{query}")
    assert response.status_code == 200
    assert message in response.content.decode()


def test_viewer_time_zone_sets_the_period(client, manager, history):
    manager.time_zone = "Europe/Berlin"
    manager.save()
    client.force_login(manager)
    # B was filed at 23:30 UTC on Friday 13th: Saturday in Berlin.
    rows = rows_of(client.get("/dashboard/flow.csv?range=custom&start=2026-11-14&end=2026-11-14"))
    assert rows[1][:2] == ["2026-11-09", "1"]


def test_user_without_projects_gets_an_empty_dashboard(client, db):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="loner"))
    response = client.get("/dashboard/")
    assert response.status_code == 200
    assert client.get("/dashboard/issues/?metric=forecast").status_code == 200
