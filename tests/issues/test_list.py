"""The issue list: filters, search, sort, pagination, CSV, bulk actions, saved filters."""

import csv
import io
import re

import pytest
from django.urls import reverse

from issues.models import EventKind, IssueEvent, Label, SavedFilter
from issues.services import add_comment
from projects.models import Membership, Role
from tests.factories import UserFactory, make_issue

pytestmark = pytest.mark.django_db


def _keys(response) -> list[str]:
    return [issue.key for issue in response.context["page"].object_list]


@pytest.fixture
def issues(project, reporter, developer, team):
    return {
        "checkout": make_issue(
            project, reporter, title="Checkout times out", priority=3, severity=4, owner=developer
        ),
        "badge": make_issue(project, reporter, title="Cart badge stale", priority=1, severity=2),
        "login": make_issue(
            project, developer, title="Login misaligned", priority=2, severity=1, team=team
        ),
    }


def test_filters_combine_and_stay_in_the_query_string(client, issues, reporter, developer):
    client.force_login(developer)
    url = reverse("issue_list")
    assert _keys(client.get(url, {"priority": [3]})) == ["WEB-1"]
    assert sorted(_keys(client.get(url, {"priority": [1, 3]}))) == ["WEB-1", "WEB-2"]
    assert _keys(client.get(url, {"owner": "me"})) == ["WEB-1"]
    assert sorted(_keys(client.get(url, {"owner": "unassigned"}))) == ["WEB-2", "WEB-3"]
    assert _keys(client.get(url, {"reporter": str(developer.pk)})) == ["WEB-3"]
    assert _keys(client.get(url, {"severity": [4], "status": ["new"]})) == ["WEB-1"]
    assert _keys(client.get(url, {"status": ["closed"]})) == []
    assert _keys(client.get(url, {"team": issues["login"].team_id})) == ["WEB-3"]
    page = client.get(url, {"priority": [3]})
    assert "Priority: High" in page.text  # an active filter chip
    assert "Export CSV" in page.text and "priority=3" in page.text


def test_label_and_date_filters(client, issues, developer):
    from workflows.issue_use_cases import add_label

    add_label(issues["badge"], actor=developer, name="frontend")
    client.force_login(developer)
    url = reverse("issue_list")
    assert _keys(client.get(url, {"label": "Frontend"})) == ["WEB-2"]
    assert len(_keys(client.get(url, {"created_after": "2000-01-01"}))) == 3
    assert _keys(client.get(url, {"updated_before": "2000-01-01"})) == []


def test_bad_filter_values_are_explained_not_a_500(client, issues, developer):
    client.force_login(developer)
    response = client.get(reverse("issue_list"), {"priority": ["9"], "created_after": "nope"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.text
    assert "Enter a valid date." in response.text


def test_sla_state_filter_uses_workflows_rule(client, issues, developer):
    client.force_login(developer)
    response = client.get(reverse("issue_list"), {"sla": "breached"})
    assert response.status_code == 200
    assert _keys(response) == []


def test_text_search_covers_title_description_and_comments(client, project, issues, developer):
    add_comment(issues["badge"], author=developer, body="Reproduced with the PayPal sandbox")
    make_issue(project, developer, title="Other", description="The paypal button is grey")
    client.force_login(developer)
    url = reverse("issue_list")
    assert _keys(client.get(url, {"q": "checkout"})) == ["WEB-1"]
    assert sorted(_keys(client.get(url, {"q": "paypal"}))) == ["WEB-2", "WEB-4"]


def test_exact_key_jumps_to_the_issue(client, issues, project, other_project, outsider, developer):
    secret = make_issue(other_project, outsider, title="Secret outage")
    client.force_login(developer)
    response = client.get(reverse("issue_list"), {"q": " web-2 "})
    assert response.status_code == 302
    assert response["Location"] == "/issues/WEB-2/"
    response = client.get(reverse("issue_list"), {"q": secret.key})
    assert response.status_code == 200
    assert "Secret outage" not in response.text


def test_sorting_by_columns(client, issues, developer):
    client.force_login(developer)
    url = reverse("issue_list")
    assert _keys(client.get(url, {"sort": "priority"})) == ["WEB-2", "WEB-3", "WEB-1"]
    assert _keys(client.get(url, {"sort": "-priority"})) == ["WEB-1", "WEB-3", "WEB-2"]
    assert _keys(client.get(url, {"sort": "-severity"})) == ["WEB-1", "WEB-2", "WEB-3"]
    assert _keys(client.get(url, {"sort": "key"})) == ["WEB-1", "WEB-2", "WEB-3"]
    assert _keys(client.get(url, {"sort": "owner"}))[0] == "WEB-1"
    assert client.get(url, {"sort": "due"}).status_code == 200
    assert client.get(url, {"sort": "bogus"}).status_code == 200


def test_pagination(client, project, reporter):
    for n in range(30):
        make_issue(project, reporter, title=f"Issue {n}")
    client.force_login(reporter)
    first = client.get(reverse("issue_list"), {"per_page": 25, "sort": "key"})
    assert len(_keys(first)) == 25
    assert "page 1 of 2" in first.text
    second = client.get(reverse("issue_list"), {"per_page": 25, "sort": "key", "page": 2})
    assert _keys(second) == [f"WEB-{n}" for n in range(26, 31)]
    assert client.get(reverse("issue_list"), {"page": "999"}).status_code == 200


def test_pages_in_the_default_order_hold_every_issue_once(client, project, reporter):
    for n in range(30):
        make_issue(project, reporter, title=f"Issue {n}")
    client.force_login(reporter)
    url = reverse("issue_list")
    first = _keys(client.get(url, {"per_page": 25}))
    second = _keys(client.get(url, {"per_page": 25, "page": 2}))
    assert first + second == [f"WEB-{n}" for n in range(30, 0, -1)]  # newest first
    high = client.get(url, {"per_page": 25, "page": 2, "sort": "-key"})
    assert _keys(high) == [f"WEB-{n}" for n in range(5, 0, -1)]


def test_a_row_shows_the_issue_at_a_glance(client, project, reporter, developer):
    from workflows.issue_use_cases import add_label

    issue = make_issue(
        project, reporter, title="<b>Cart</b> & checkout", priority=3, severity=4, owner=developer
    )
    add_label(issue, actor=reporter, name="payments")
    make_issue(project, reporter, title="Nobody on it", type="task")
    client.force_login(reporter)
    text = client.get(reverse("issue_list")).text
    row = text[text.index('<tr data-row-link="/issues/WEB-1/">') :]
    row = row[: row.index("</tr>")]
    assert f'value="{issue.pk}"' in row and 'aria-label="Select WEB-1"' in row
    assert "&lt;b&gt;Cart&lt;/b&gt; &amp; checkout" in row and "<b>Cart</b>" not in row
    assert ">payments</span>" in row
    assert "High</span>" in row and "Critical</span>" in row
    assert 'class="badge status-badge status-new">New</span>' in row
    assert 'title="Developer" aria-hidden="true">D</span>' in row and ">developer</span>" in row
    assert 'data-sla-state="on_track"' in row and re.search(
        r"On track · \d+ h( \d+ min)? left", row
    )
    assert "minutes ago</time>" in row
    other = text[text.index('<tr data-row-link="/issues/WEB-2/">') :]
    assert "Unassigned" in other[: other.index("</tr>")]
    assert "bi-check2-square" in other[: other.index("</tr>")]


def test_list_query_count_is_constant(
    client, project, reporter, developer, team, django_assert_num_queries
):
    from workflows.issue_use_cases import add_label

    def page(**params):
        return client.get(reverse("issue_list"), params)

    client.force_login(reporter)
    issue = make_issue(project, reporter, owner=developer, team=team)
    add_label(issue, actor=reporter, name="x")
    page()
    # session, user, the visible projects (once: top-bar menu, project choices, the issues'
    # project ids), count, issues (component joined), labels, saved filters, the teams with
    # the projects' components and versions (one statement), unread notifications (bell), the
    # projects' SLA policies (time left in business time), the custom fields offered as
    # filters and columns (with their choices, one query). No list of members: the owner
    # and reporter boxes ask /projects/people.json.
    with django_assert_num_queries(11):
        page()
    for n in range(40):
        i = make_issue(project, reporter, owner=developer, team=team, priority=3)
        add_label(i, actor=reporter, name=f"l{n % 5}")
    few_members = len(page().content)
    for _ in range(60):
        Membership.objects.create(project=project, user=UserFactory(), role=Role.DEVELOPER)
    with django_assert_num_queries(11):
        response = page()
    assert len(response.content) == few_members  # no page weight per member
    # A chosen owner is looked up once (by username, or by id as older links have it).
    with django_assert_num_queries(12):
        page(priority=3, status="new", owner=developer.pk, sort="due", q="broken", per_page=100)
    with django_assert_num_queries(13):  # each chosen person once: owner and reporter
        page(owner=developer.username, reporter=reporter.username)


def test_list_and_csv_never_show_other_projects(client, issues, other_project, outsider, reporter):
    make_issue(other_project, outsider, title="Secret outage in payments")
    client.force_login(reporter)
    for params in ({}, {"q": "Secret"}, {"project": other_project.pk}):
        listing = client.get(reverse("issue_list"), params)
        assert "Secret outage" not in listing.text
        export = client.get(reverse("issue_export"), params)
        if export.status_code == 200:
            assert b"Secret outage" not in b"".join(export.streaming_content)
        else:  # an invalid filter (a project you cannot see) goes back to the list
            assert export.status_code == 302


def test_csv_exports_exactly_the_filtered_list(client, project, reporter):
    for n in range(3):
        make_issue(project, reporter, title=f"High {n}", priority=3)
    make_issue(project, reporter, title="=HYPERLINK(evil)", priority=1)
    client.force_login(reporter)
    response = client.get(reverse("issue_export"), {"priority": 3, "per_page": 25, "page": 1})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["key", "title", "type"]
    assert sorted(r[0] for r in rows[1:]) == ["WEB-1", "WEB-2", "WEB-3"]
    low = client.get(reverse("issue_export"), {"priority": 1})
    body = b"".join(low.streaming_content).decode()
    assert "'=HYPERLINK(evil)" in body  # formulas are defused


def test_bulk_actions_go_through_the_same_rules_and_audit(
    client, issues, project, developer, manager
):
    client.force_login(manager)
    ids = [issues["badge"].pk, issues["login"].pk]
    response = client.post(
        reverse("issue_bulk"),
        {
            "issues": ids,
            "owner": str(developer.pk),
            "priority": 3,
            "label": "triaged",
            "reason": "Customer escalation",
            "next": "/issues/?priority=3",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/issues/?priority=3"
    for key in ("badge", "login"):
        issue = issues[key]
        issue.refresh_from_db()
        assert (issue.owner, issue.priority) == (developer, 3)
        assert [label.name for label in issue.labels.all()] == ["triaged"]
        assert developer in issue.watchers.all()
        fields = set(
            IssueEvent.objects.filter(issue=issue, kind=EventKind.CHANGED).values_list(
                "field", flat=True
            )
        )
        assert fields == {"owner", "priority", "labels"}
    assert Label.objects.filter(name="triaged").count() == 1


def test_bulk_is_all_or_nothing_and_ignores_invisible_issues(
    client, issues, other_project, outsider, developer
):
    secret = make_issue(other_project, outsider)
    client.force_login(developer)
    # An owner who is not a member of WEB: refused, nothing changed.
    response = client.post(
        reverse("issue_bulk"),
        {
            "issues": [issues["badge"].pk, issues["login"].pk],
            "owner": str(outsider.pk),
            "priority": 3,
        },
        follow=True,
    )
    assert (
        "Nothing was changed" in response.text or "The owner must be a Developer" in response.text
    )
    issues["badge"].refresh_from_db()
    assert issues["badge"].priority == 1
    client.post(reverse("issue_bulk"), {"issues": [secret.pk], "priority": 3})
    secret.refresh_from_db()
    assert secret.priority == 2


def test_saved_filters_are_per_user(client, issues, reporter, developer):
    client.force_login(developer)
    client.post(reverse("issue_filter_save"), {"name": "Hot", "query": "priority=3&sort=due"})
    saved = SavedFilter.objects.get()
    assert (saved.user, saved.query) == (developer, "priority=3&sort=due")
    page = client.get(reverse("issue_list"))
    assert 'href="/issues/?priority=3&amp;sort=due">Hot</a>' in page.text
    assert "My open issues" in page.text and "Unassigned critical" in page.text
    client.force_login(reporter)
    assert ">Hot</a>" not in client.get(reverse("issue_list")).text
    assert client.post(reverse("issue_filter_delete", args=[saved.pk])).status_code == 404
    client.force_login(developer)
    client.post(reverse("issue_filter_delete", args=[saved.pk]))
    assert not SavedFilter.objects.exists()


def test_new_issue_button_and_row_links(client, issues, reporter):
    client.force_login(reporter)
    text = client.get(reverse("issue_list")).text
    assert 'href="/issues/new/" data-shortcut-new' in text
    assert 'data-row-link="/issues/WEB-1/"' in text


def test_similar_issues_are_suggested_before_filing(
    client, project, other_project, issues, outsider, reporter
):
    make_issue(other_project, outsider, title="Checkout secret outage")
    client.force_login(reporter)
    response = client.get(
        reverse("issue_similar"), {"project": project.pk, "title": "checkout slow"}
    )
    assert "WEB-1" in response.text and "Checkout times out" in response.text
    assert "secret" not in response.text
    response = client.get(
        reverse("issue_similar"), {"project": other_project.pk, "title": "checkout"}
    )
    assert "secret" not in response.text


def test_huge_lists_say_more_than_instead_of_counting_everything(
    client, project, reporter, monkeypatch
):
    from issues.pagination import CappedPaginator

    monkeypatch.setattr(CappedPaginator, "COUNT_CAP", 5)
    for _ in range(8):
        make_issue(project, reporter)
    client.force_login(reporter)
    response = client.get(reverse("issue_list"), {"per_page": 25})
    assert "More than 5 issues" in response.text
    assert len(_keys(response)) == 5
    monkeypatch.setattr(CappedPaginator, "COUNT_CAP", 26)
    for _ in range(22):
        make_issue(project, reporter)
    response = client.get(reverse("issue_list"), {"per_page": 25})
    assert "More than 26 issues" in response.text
    assert "page 1 of 2+" in response.text and "1 / 2+" in response.text  # more pages than shown


@pytest.mark.parametrize(
    "q", ['a:b & | !( "unclosed', "'; DROP TABLE issues_issue; --", "ü" * 300, "-"]
)
def test_odd_search_input_never_breaks_the_list(client, issues, developer, q):
    client.force_login(developer)
    response = client.get(reverse("issue_list"), {"q": q})
    assert response.status_code == 200
    similar = client.get(
        reverse("issue_similar"), {"project": issues["badge"].project_id, "title": q}
    )
    assert similar.status_code == 200


def test_dashboard_drill_down_parameters_filter_the_list(client, issues, project, reporter):
    """The dashboard links here with keys=, several project=, owner=unassigned and dates."""
    client.force_login(reporter)
    keys = f"{issues['badge'].key},{issues['login'].key},NOPE-1,garbage"
    listing = client.get(reverse("issue_list"), {"keys": keys})
    assert issues["badge"].title in listing.text
    assert issues["login"].title in listing.text
    others = [i for k, i in issues.items() if k not in ("badge", "login")]
    assert all(i.title not in listing.text for i in others)
    several = client.get(reverse("issue_list"), {"project": [project.pk], "owner": "unassigned"})
    assert several.status_code == 200
    today = issues["badge"].created_at.date().isoformat()
    dated = client.get(reverse("issue_list"), {"created_after": today, "created_before": today})
    assert issues["badge"].title in dated.text


def test_filter_bar_inputs_are_rendered_as_django_renders_them(project, reporter, rf):
    """The filter bar's boxes are built in Python (filter_tags.filter_input) for speed: the
    markup is Django's own, values escaped, for text, date range and number range filters;
    a box with an error is left to Django (it marks it invalid)."""
    from customfields.models import FieldKind
    from customfields.services import create_custom_field
    from issues.filters import IssueFilter
    from issues.models import Issue
    from issues.templatetags.filter_tags import filter_input

    create_custom_field(project, name="Affected customers", slug="affected", kind=FieldKind.NUMBER)
    data = {
        "q": 'say "hi" <b>',
        "label": "front&end",
        "created_after": "2024-01-02",
        "updated_before": "2025-12-31",
        "cf_affected_min": "3",
    }
    request = rf.get("/issues/", data)
    request.user = reporter
    filterset = IssueFilter(
        request.GET, queryset=Issue.objects.all(), request=request, with_custom_fields=True
    )
    names = ["q", "label", "created", "updated", "cf_affected"]
    for name in names:
        bound = filterset.form[name]
        assert filter_input(bound) == str(bound), name
    assert 'value="say &quot;hi&quot; &lt;b&gt;"' in filter_input(filterset.form["q"])
    refused = rf.get("/issues/", {"created_after": "not a date"})
    refused.user = reporter
    invalid = IssueFilter(refused.GET, queryset=Issue.objects.all(), request=refused)
    invalid.is_valid()
    assert invalid.form["created"].errors
    assert filter_input(invalid.form["created"]) == str(invalid.form["created"])
