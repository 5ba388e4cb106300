"""Custom fields in the list: filters (in the URL, with chips, saved), optional columns with a
constant query count, the CSV export; never a field of a project the user cannot see."""

import csv
import io
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from customfields.models import FieldKind
from customfields.services import create_custom_field, set_custom_values
from tests.factories import make_issue

from .conftest import option

pytestmark = pytest.mark.django_db


@pytest.fixture
def filed(project, reporter, developer, affected, environment):
    """Three issues: A (Production, 500, on call developer, 2026-01-10, ticked),
    B (Staging, 20), C (nothing)."""
    shipped = create_custom_field(project, name="Shipped on", slug="shipped", kind=FieldKind.DATE)
    oncall = create_custom_field(project, name="On call", slug="oncall", kind=FieldKind.USER)
    hotfix = create_custom_field(project, name="Hotfix", slug="hotfix", kind=FieldKind.CHECKBOX)
    tags = create_custom_field(
        project, name="Areas", slug="areas", kind=FieldKind.MULTI_CHOICE, options="API\nUI\nDB"
    )
    a = make_issue(project, reporter, title="Alpha issue")
    b = make_issue(project, reporter, title="Bravo issue")
    c = make_issue(project, reporter, title="Charlie issue")
    set_custom_values(
        a,
        actor=reporter,
        values={
            "env": "Production",
            "affected_customers": 500,
            "shipped": "2026-01-10",
            "oncall": developer.username,
            "hotfix": True,
            "areas": ["API", "DB"],
        },
    )
    set_custom_values(
        b, actor=reporter, values={"env": "Staging", "affected_customers": 20, "areas": ["UI"]}
    )
    return {"a": a, "b": b, "c": c, "fields": (shipped, oncall, hotfix, tags)}


def _titles(response) -> set[str]:
    return {t for t in ("Alpha", "Bravo", "Charlie") if f"{t} issue" in response.text}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"cf_env": "PROD"}, {"Alpha"}),
        ({"cf_env": ["PROD", "STAGING"]}, {"Alpha", "Bravo"}),
        ({"cf_affected_customers_min": "100"}, {"Alpha"}),
        ({"cf_affected_customers_max": "100"}, {"Bravo"}),
        (
            {"cf_affected_customers_min": "10", "cf_affected_customers_max": "600"},
            {"Alpha", "Bravo"},
        ),
        ({"cf_shipped_after": "2026-01-01", "cf_shipped_before": "2026-01-31"}, {"Alpha"}),
        ({"cf_shipped_after": "2026-02-01"}, set()),
        ({"cf_oncall": "developer"}, {"Alpha"}),
        ({"cf_hotfix": "yes"}, {"Alpha"}),
        ({"cf_hotfix": "no"}, {"Bravo", "Charlie"}),
        ({"cf_areas": "UI"}, {"Bravo"}),
        ({"cf_areas": ["API", "UI"]}, {"Alpha", "Bravo"}),
    ],
)
def test_filters(client, reporter, environment, filed, params, expected):
    areas = filed["fields"][3]
    ids = {
        "PROD": option(environment, "Production").pk,
        "STAGING": option(environment, "Staging").pk,
        "UI": option(areas, "UI").pk,
        "API": option(areas, "API").pk,
    }
    params = {
        k: ([str(ids.get(x, x)) for x in v] if isinstance(v, list) else str(ids.get(v, v)))
        for k, v in params.items()
    }
    client.force_login(reporter)
    response = client.get(reverse("issue_list"), params)
    assert response.status_code == 200
    assert _titles(response) == expected


def test_filter_chips_and_saved_filter(client, reporter, environment, filed):
    client.force_login(reporter)
    production = option(environment, "Production").pk
    query = urlencode({"cf_env": production, "cf_affected_customers_min": 100})
    page = client.get(f"{reverse('issue_list')}?{query}")
    assert "Environment: Production" in page.text
    assert "Affected customers at least: 100" in page.text
    # The filter bar offers the fields, with their choices and labelled range inputs.
    assert 'aria-label="Affected customers from"' in page.text
    client.post(reverse("issue_filter_save"), {"name": "Prod outages", "query": query})
    saved = client.get(reverse("issue_list"))
    assert f"?{query}" in saved.text.replace("&amp;", "&")
    assert _titles(client.get(f"{reverse('issue_list')}?{query}")) == {"Alpha"}


def test_bad_filter_values_are_shown_not_a_500(client, reporter, filed):
    client.force_login(reporter)
    response = client.get(reverse("issue_list"), {"cf_affected_customers_min": "lots"})
    assert response.status_code == 200
    assert "Enter a number." in response.text
    response = client.get(reverse("issue_list"), {"cf_env": "999999"})
    assert "Select a valid choice." in response.text


def test_columns_and_constant_query_count(
    client, project, reporter, environment, filed, django_assert_num_queries
):
    client.force_login(reporter)
    url = reverse("issue_list") + "?columns=env,affected_customers"
    client.get(url)
    page = client.get(url)
    assert '<th scope="col" data-custom-column="env">Environment</th>' in page.text
    row = page.text[page.text.index('<tr data-row-link="/issues/WEB-1/">') :]
    row = row[: row.index("</tr>")]
    assert '<td class="small">Production</td>' in row
    assert '<td class="small">500</td>' in row
    # The column chooser offers every field; unknown slugs are ignored.
    assert 'name="columns" value="shipped"' in page.text
    # 11 (see tests/issues/test_list.py) + the chosen columns' cells (one query).
    with django_assert_num_queries(12):
        client.get(url + ",nonsense")
    for n in range(30):
        issue = make_issue(project, reporter, title=f"More {n}")
        set_custom_values(issue, actor=reporter, values={"env": "Local", "affected_customers": n})
    with django_assert_num_queries(12):
        client.get(url)
    # A filter on a choice adds no query (the field definitions are read once).
    production = option(environment, "Production").pk
    with django_assert_num_queries(12):
        client.get(url + f"&cf_env={production}")


def test_csv_has_a_column_per_field(client, reporter, filed):
    client.force_login(reporter)
    export = client.get(reverse("issue_export"))
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    alpha = next(r for r in rows if r["title"] == "Alpha issue")
    assert alpha["env"] == "Production"
    assert alpha["affected_customers"] == "500"
    assert alpha["shipped"] == "2026-01-10"
    assert alpha["oncall"] == "developer"
    assert alpha["hotfix"] == "Yes"
    assert alpha["areas"] == "API, DB"
    charlie = next(r for r in rows if r["title"] == "Charlie issue")
    assert charlie["env"] == ""


def test_fields_of_projects_you_cannot_see_never_appear(
    client, project, other_project, outsider, environment, filed
):
    """The outsider sees OPS only: WEB's fields are neither filters, columns nor CSV columns,
    and WEB's choice ids in a URL match nothing of theirs."""
    mine = create_custom_field(
        other_project, name="Region", slug="region", kind=FieldKind.CHOICE, options="EU\nUS"
    )
    own = make_issue(other_project, outsider, title="Delta issue")
    set_custom_values(own, actor=outsider, values={"region": "EU"})
    client.force_login(outsider)
    page = client.get(reverse("issue_list"), {"columns": "env,region"})
    assert "Environment" not in page.text
    assert "Production" not in page.text
    assert 'data-custom-column="region"' in page.text
    assert "cf_env" not in page.text
    probe = client.get(reverse("issue_list"), {"cf_env": option(environment, "Production").pk})
    assert "Alpha issue" not in probe.text
    export = client.get(reverse("issue_export"))
    header = b"".join(export.streaming_content).decode().splitlines()[0]
    assert "region" in header and "env" not in header.split(",")
    assert mine.slug == "region"


def test_one_slug_in_two_projects_filters_both_for_a_member_of_both(
    client, project, other_project, reporter, environment, filed
):
    from projects.models import Membership, Role

    Membership.objects.create(project=other_project, user=reporter, role=Role.REPORTER)
    ops_env = create_custom_field(
        other_project, name="Environment", slug="env", kind=FieldKind.CHOICE, options="Production"
    )
    ops = make_issue(other_project, reporter, title="Echo issue")
    set_custom_values(ops, actor=reporter, values={"env": "Production"})
    client.force_login(reporter)
    both = [option(environment, "Production").pk, option(ops_env, "Production").pk]
    page = client.get(reverse("issue_list"), {"cf_env": both, "columns": "env"})
    assert "Echo issue" in page.text and "Alpha issue" in page.text
    assert "Bravo issue" not in page.text
    assert "Production (OPS)" in page.text


def test_the_board_and_the_api_list_take_the_same_filters(
    client, reporter, environment, filed, token_of, api_get
):
    production = option(environment, "Production").pk
    client.force_login(reporter)
    board = client.get(reverse("project_board", args=["WEB"]), {"cf_env": production})
    assert board.status_code == 200
    assert "Alpha issue" in board.text and "Bravo issue" not in board.text
    listed = api_get("/api/v1/issues?cf_affected_customers_max=100", token_of(reporter)).json()
    assert [r["title"] for r in listed["results"]] == ["Bravo issue"]
    refused = api_get("/api/v1/issues?cf_affected_customers_max=lots", token_of(reporter))
    assert refused.status_code == 400
    assert refused.json()["field"] == "cf_affected_customers"


def test_a_custom_filter_counts_up_to_its_own_cap(
    client, project, reporter, environment, monkeypatch
):
    """A list filtered on a custom field counts at most CUSTOM_FILTER_COUNT_CAP matches (the
    count stays an early-stopping merge of two indexes); the list without it counts as far as
    the list's own cap. The rows shown are the filtered ones either way."""
    import issues.filters

    monkeypatch.setattr(issues.filters, "CUSTOM_FILTER_COUNT_CAP", 3)
    for n in range(5):
        issue = make_issue(project, reporter, title=f"Outage {n}")
        set_custom_values(issue, actor=reporter, values={"env": "Production"})
    make_issue(project, reporter, title="Quiet one")
    client.force_login(reporter)
    production = option(environment, "Production").pk
    filtered = client.get(reverse("issue_list"), {"cf_env": production, "per_page": 25})
    assert "More than 3 issues" in filtered.text
    assert len(filtered.context["page"].object_list) == 3
    assert "Quiet one" not in filtered.text
    assert "6 issues" in client.get(reverse("issue_list")).text
    # An empty custom filter (the bar submits every box) is no filter.
    empty = client.get(reverse("issue_list"), {"cf_affected_customers_min": ""})
    assert "6 issues" in empty.text
