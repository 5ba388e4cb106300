"""The issue list (the list page's filters), comments and transitions through the API."""

import pytest
from django.test import RequestFactory

from api.issues import TRANSITION_FIELDS, IssueListQuery
from issues.filters import IssueFilter
from issues.models import Comment, EventKind, Issue, IssueEvent, Label, Status
from tests.factories import make_issue
from workflows.transitions import SYSTEM_TRANSITIONS, TRANSITIONS

pytestmark = pytest.mark.django_db


def api_json(client, method, path, secret, data=None):
    import json

    kwargs = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    if method == "get":
        return client.get(path, data or {}, **kwargs)
    return client.post(path, data=json.dumps(data), content_type="application/json", **kwargs)


# --- one definition of the filters ----------------------------------------------------------


def test_documented_list_parameters_are_exactly_the_list_pages_filters(developer):
    request = RequestFactory().get("/")
    request.user = developer
    form = IssueFilter(None, queryset=Issue.objects.none(), request=request).form
    names = set()
    for name, field in form.fields.items():
        suffixes = getattr(field.widget, "suffixes", None)
        names |= {f"{name}_{s}" for s in suffixes} if suffixes else {name}
    documented = set(IssueListQuery.model_fields) - {"page", "per_page"}
    assert documented == names


def test_transition_body_covers_every_field_of_the_table():
    asked = {f.name for t in TRANSITIONS + SYSTEM_TRANSITIONS for f in t.fields}
    assert asked <= set(TRANSITION_FIELDS)


# --- list -----------------------------------------------------------------------------------


def test_list_filters_like_the_list_page(
    client, token_of, project, other_project, reporter, developer, outsider
):
    ui = Label.objects.create(project=project, name="UI")
    a = make_issue(project, reporter, title="Login button broken", severity=4, labels=[ui])
    make_issue(project, reporter, title="Report export slow", severity=2)
    make_issue(other_project, outsider, title="Secret outage")
    secret = token_of(developer)

    everything = api_json(client, "get", "/api/v1/issues", secret).json()
    assert everything["count"] == 2
    assert {r["key"] for r in everything["results"]} == {"WEB-1", "WEB-2"}
    assert "Secret" not in str(everything)

    critical = api_json(client, "get", "/api/v1/issues", secret, {"severity": 4}).json()
    assert [r["key"] for r in critical["results"]] == [a.key]
    labelled = api_json(client, "get", "/api/v1/issues", secret, {"label": "ui"}).json()
    assert [r["key"] for r in labelled["results"]] == [a.key]
    assert labelled["results"][0]["labels"] == ["UI"]
    searched = api_json(client, "get", "/api/v1/issues", secret, {"q": "export"}).json()
    assert [r["title"] for r in searched["results"]] == ["Report export slow"]
    several = api_json(
        client, "get", "/api/v1/issues?status=new&status=closed&sort=key", secret
    ).json()
    assert [r["key"] for r in several["results"]] == ["WEB-1", "WEB-2"]
    mine = api_json(client, "get", "/api/v1/issues", secret, {"owner": "unassigned"}).json()
    assert mine["count"] == 2


def test_list_outsider_sees_only_their_project(client, token_of, project, reporter, outsider):
    make_issue(project, reporter, title="Web only")
    body = api_json(client, "get", "/api/v1/issues", token_of(outsider)).json()
    assert body["count"] == 0
    assert body["results"] == []
    # Filtering by another project's id is refused like on the page, never answered.
    response = api_json(
        client, "get", "/api/v1/issues", token_of(outsider), {"project": project.pk}
    )
    assert response.status_code == 400
    assert response.json()["field"] == "project"
    assert "Web only" not in response.text


def test_list_pagination(client, token_of, project, reporter):
    for i in range(27):
        make_issue(project, reporter, title=f"Issue {i}")
    secret = token_of(reporter)
    first = api_json(client, "get", "/api/v1/issues", secret, {"per_page": 25}).json()
    assert (first["count"], first["pages"], first["next_page"], len(first["results"])) == (
        27,
        2,
        2,
        25,
    )
    assert first["count_capped"] is False
    second = api_json(client, "get", "/api/v1/issues", secret, {"per_page": 25, "page": 2}).json()
    assert (second["page"], second["next_page"], len(second["results"])) == (2, None, 2)


def test_list_total_is_capped_like_the_list_page(client, token_of, project, reporter, monkeypatch):
    from issues.pagination import CappedPaginator

    monkeypatch.setattr(CappedPaginator, "COUNT_CAP", 3)
    for _ in range(5):
        make_issue(project, reporter)
    body = api_json(client, "get", "/api/v1/issues", token_of(reporter), {"per_page": 25}).json()
    assert (body["count"], body["count_capped"]) == (3, True)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"per_page": 7}, "per_page"),
        ({"status": "lost"}, "status"),
        ({"sort": "colour"}, "sort"),
        ({"page": "x"}, "page"),
        ({"created_after": "yesterday"}, "created_after"),
    ],
)
def test_bad_list_parameters_are_400_naming_the_field(
    client, token_of, reporter, project, params, field
):
    response = api_json(client, "get", "/api/v1/issues", token_of(reporter), params)
    assert response.status_code == 400
    assert response.json()["field"] == field


def test_list_queries_do_not_grow_with_the_page(
    client, token_of, project, reporter, developer, django_assert_max_num_queries
):
    ui = Label.objects.create(project=project, name="UI")
    for _ in range(3):
        make_issue(project, reporter, owner=developer, labels=[ui])
    secret = token_of(reporter)
    with django_assert_max_num_queries(12) as few:
        api_json(client, "get", "/api/v1/issues", secret)
    for _ in range(20):
        make_issue(project, reporter, owner=developer, labels=[ui])
    with django_assert_max_num_queries(len(few.captured_queries)):
        api_json(client, "get", "/api/v1/issues", secret)


# --- read with comments and SLA summary -------------------------------------------------------


def test_read_shows_comments_sla_summary_and_what_i_may_do(
    client, token_of, project, reporter, manager
):
    issue = make_issue(project, reporter, title="Slow login")
    api_json(
        client, "post", "/api/v1/issues/WEB-1/comments", token_of(reporter), {"body": "**Hi**"}
    )
    body = api_json(client, "get", "/api/v1/issues/WEB-1", token_of(manager)).json()
    assert [(c["author"], c["body"]) for c in body["comments"]] == [("reporter", "**Hi**")]
    assert "<strong>Hi</strong>" in body["comments"][0]["body_html"]
    assert body["sla_summary"]["cycle"] == issue.sla_cycle
    assert body["sla_summary"]["due_at"] is not None
    assert body["sla_summary"]["remaining_seconds"] > 0
    assert "assign" in {t["name"] for t in body["available_transitions"]}
    as_reporter = api_json(client, "get", "/api/v1/issues/WEB-1", token_of(reporter)).json()
    assert "assign" not in {t["name"] for t in as_reporter["available_transitions"]}


# --- comments -------------------------------------------------------------------------------


def test_comment_through_the_service(client, token_of, project, reporter, developer):
    make_issue(project, reporter)
    response = api_json(
        client,
        "post",
        "/api/v1/issues/WEB-1/comments",
        token_of(reporter),
        {"body": "Seen again, @developer"},
    )
    assert response.status_code == 201, response.content
    comment = Comment.objects.get()
    assert response.json()["id"] == comment.pk
    assert list(comment.mentions.all()) == [developer]
    assert IssueEvent.objects.filter(kind=EventKind.COMMENTED, actor=reporter).count() == 1


def test_empty_comment_is_400_and_writes_nothing(client, token_of, project, reporter):
    make_issue(project, reporter)
    for body in ({"body": "   "}, {"body": ""}, {}):
        response = api_json(
            client, "post", "/api/v1/issues/WEB-1/comments", token_of(reporter), body
        )
        assert response.status_code == 400
        assert response.json()["field"] == "body"
    assert Comment.objects.count() == 0


def test_outsider_cannot_comment_or_learn_anything(client, token_of, project, reporter, outsider):
    make_issue(project, reporter, title="Internal secret")
    secret = token_of(outsider)
    for path, data in (
        ("/api/v1/issues/WEB-1/comments", {"body": "hi"}),
        ("/api/v1/issues/WEB-1/transitions", {"to": "assigned"}),
    ):
        response = api_json(client, "post", path, secret, data)
        assert response.status_code == 404
        assert "secret" not in response.text.lower()
    assert api_json(client, "get", "/api/v1/issues/WEB-1", secret).status_code == 404
    assert Comment.objects.count() == 0
    assert Issue.objects.get().status == Status.NEW


# --- transitions ----------------------------------------------------------------------------


def test_assign_through_the_workflow(client, token_of, project, reporter, manager, developer):
    make_issue(project, reporter)
    response = api_json(
        client,
        "post",
        "/api/v1/issues/WEB-1/transitions",
        token_of(manager),
        {"to": "assigned", "owner": "developer", "expected_status": "new"},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["owner"]) == ("assigned", "developer")
    event = IssueEvent.objects.get(kind=EventKind.TRANSITIONED)
    assert (event.actor, event.data["transition"]) == (manager, "assign")


def test_missing_required_field_is_400_naming_it(client, token_of, project, reporter, manager):
    make_issue(project, reporter)
    response = api_json(
        client, "post", "/api/v1/issues/WEB-1/transitions", token_of(manager), {"to": "assigned"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "missing_field",
        "detail": "Choose an owner.",
        "field": "owner",
    }
    bad_owner = api_json(
        client,
        "post",
        "/api/v1/issues/WEB-1/transitions",
        token_of(manager),
        {"to": "assigned", "owner": "reporter"},
    )
    assert bad_owner.status_code == 400
    assert bad_owner.json()["error"] == "invalid_field"
    assert "Developer" in bad_owner.json()["detail"]
    assert Issue.objects.get().status == Status.NEW


def test_impossible_transition_is_400(client, token_of, project, reporter, manager):
    make_issue(project, reporter)
    for target in ("fixed", "nonsense"):
        response = api_json(
            client, "post", "/api/v1/issues/WEB-1/transitions", token_of(manager), {"to": target}
        )
        assert response.status_code == 400
        assert response.json()["error"] == "transition_refused"


def test_forbidden_is_403_naming_the_rule(client, token_of, project, reporter, developer):
    make_issue(project, reporter)
    response = api_json(
        client,
        "post",
        "/api/v1/issues/WEB-1/transitions",
        token_of(reporter),
        {"to": "assigned", "owner": "developer"},
    )
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert "Assign" in response.json()["detail"]
    assert Issue.objects.get().status == Status.NEW


def test_stale_is_409(client, token_of, project, reporter, manager, developer):
    make_issue(project, reporter)
    secret = token_of(manager)
    api_json(
        client,
        "post",
        "/api/v1/issues/WEB-1/transitions",
        secret,
        {"to": "assigned", "owner": "developer"},
    )
    response = api_json(
        client,
        "post",
        "/api/v1/issues/WEB-1/transitions",
        secret,
        {"to": "assigned", "owner": "developer", "expected_status": "new"},
    )
    assert response.status_code == 409
    assert response.json()["error"] == "stale"
    assert "reload" in response.json()["detail"]


def test_openapi_documents_the_new_endpoints(client):
    doc = client.get("/api/v1/openapi.json").json()
    paths = doc["paths"]
    assert "get" in paths["/api/v1/issues"] and "post" in paths["/api/v1/issues"]
    params = {p["name"] for p in paths["/api/v1/issues"]["get"]["parameters"]}
    assert {"q", "status", "severity", "sla", "page", "per_page"} <= params
    assert "post" in paths["/api/v1/issues/{key}/comments"]
    transitions = paths["/api/v1/issues/{key}/transitions"]["post"]
    assert {"400", "403", "404", "409"} <= set(transitions["responses"])
