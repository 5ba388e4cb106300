from tests.factories import make_issue

TABLES = [
    "now-counts",
    "now-urgent",
    "compliance",
    "compliance-weekly",
    "mtt-priority",
    "mtt-severity",
    "stages",
    "ageing",
    "flow",
    "workload",
    "breaches-type",
    "breaches-cause",
    "lessons",
]


def test_dashboard_and_every_csv_render(client, manager, project, reporter):
    make_issue(project, reporter)
    client.force_login(manager)
    assert client.get("/dashboard/").status_code == 200
    for slug in TABLES:
        response = client.get(f"/dashboard/{slug}.csv")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
