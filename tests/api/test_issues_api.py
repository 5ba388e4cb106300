"""GET /api/v1/issues/<KEY> and POST /api/v1/issues with personal tokens: the UI's access."""

from datetime import timedelta

import pytest
from django.utils import timezone

from api.services import revoke_api_token
from intake.services import create_intake_token
from issues.models import EventKind, Issue, IssueEvent
from tests.factories import make_issue

pytestmark = pytest.mark.django_db


def test_read_an_issue_with_its_sla_state(api_get, token_of, project, reporter, developer):
    issue = make_issue(project, reporter, title="Checkout times out", severity=4)
    Issue.objects.filter(pk=issue.pk).update(
        resolution_due_at=timezone.now() - timedelta(hours=1), owner=developer
    )
    response = api_get("/api/v1/issues/WEB-1", token_of(reporter))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["key"] == "WEB-1"
    assert body["title"] == "Checkout times out"
    assert (body["severity"], body["severity_label"]) == (4, "Critical")
    assert body["status"] == "new"
    assert body["reporter"] == "reporter"
    assert body["owner"] == "developer"
    assert body["sla"]["state"] == "breached"
    assert body["sla"]["label"] == "Breached"
    assert body["url"] == "http://testserver/issues/WEB-1/"


def test_lowercase_key_works(api_get, token_of, project, reporter):
    make_issue(project, reporter)
    assert api_get("/api/v1/issues/web-1", token_of(reporter)).status_code == 200


def test_another_projects_issue_is_404_like_the_ui(
    api_get, token_of, project, other_project, reporter, outsider
):
    make_issue(other_project, outsider, title="Secret outage")
    response = api_get("/api/v1/issues/OPS-1", token_of(reporter))
    assert response.status_code == 404
    assert "Secret" not in response.text
    assert response.json()["error"] == "not_found"
    assert api_get("/api/v1/issues/WEB-99", token_of(reporter)).status_code == 404
    assert api_get("/api/v1/issues/nonsense", token_of(reporter)).status_code == 404


def test_staff_reads_every_project(api_get, token_of, other_project, outsider, admin_user):
    make_issue(other_project, outsider)
    assert api_get("/api/v1/issues/OPS-1", token_of(admin_user)).status_code == 200


def test_missing_revoked_or_intake_tokens_are_401(client, api_get, project, reporter, manager):
    make_issue(project, reporter)
    assert client.get("/api/v1/issues/WEB-1").status_code == 401
    assert api_get("/api/v1/issues/WEB-1", "rsp_nope").status_code == 401
    from api.services import create_api_token

    token, secret = create_api_token(reporter, name="old")
    assert api_get("/api/v1/issues/WEB-1", secret).status_code == 200
    revoke_api_token(token)
    response = api_get("/api/v1/issues/WEB-1", secret)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    intake_secret = create_intake_token(project, name="t", actor=manager)[1]
    assert api_get("/api/v1/issues/WEB-1", intake_secret).status_code == 401


def test_inactive_user_token_is_401(api_get, token_of, project, reporter):
    make_issue(project, reporter)
    secret = token_of(reporter)
    reporter.is_active = False
    reporter.save()
    assert api_get("/api/v1/issues/WEB-1", secret).status_code == 401


def test_file_an_issue(api_post, token_of, project, reporter):
    response = api_post(
        "/api/v1/issues",
        token_of(reporter),
        {"project": "web", "title": "Logo blurry", "severity": 1, "priority": 3, "type": "ui_ux"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["key"] == "WEB-1"
    issue = Issue.objects.get()
    assert (issue.title, issue.severity, issue.priority, issue.type) == (
        "Logo blurry",
        1,
        3,
        "ui_ux",
    )
    assert issue.reporter == reporter
    assert IssueEvent.objects.filter(issue=issue, kind=EventKind.CREATED, actor=reporter).exists()


@pytest.mark.parametrize(
    ("data", "raw", "field"),
    [
        ({"project": "WEB"}, None, "title"),
        ({"title": "x"}, None, "project"),
        ({"project": "WEB", "title": ""}, None, "title"),
        ({"project": "WEB", "title": "   "}, None, "title"),
        ({"project": "WEB", "title": "x", "severity": 9}, None, "severity"),
        ({"project": "WEB", "title": "x", "type": "rant"}, None, "type"),
        ({"project": "WEB", "title": "x" * 201}, None, "title"),
        (None, "{broken", ""),
        (None, "[]", ""),
    ],
)
def test_bad_input_is_400_naming_the_field(api_post, token_of, project, reporter, data, raw, field):
    response = api_post("/api/v1/issues", token_of(reporter), data, raw=raw)
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    assert response.json()["detail"]
    assert Issue.objects.count() == 0


def test_filing_in_another_project_is_404(api_post, token_of, project, other_project, reporter):
    response = api_post("/api/v1/issues", token_of(reporter), {"project": "OPS", "title": "x"})
    assert response.status_code == 404
    assert Issue.objects.count() == 0


def test_openapi_document_describes_the_api(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["info"]["title"] == "Resolve API"
    assert set(doc["paths"]) >= {
        "/api/v1/projects/{key}/events/",
        "/api/v1/issues/{key}",
        "/api/v1/issues",
    }
    schemas = doc["components"]["schemas"]
    assert {"GenericEvent", "SentryIssueAlert", "AlertmanagerWebhook", "ErrorOut"} <= set(schemas)
    assert schemas["GenericEvent"]["required"] == ["title"]
    body = doc["paths"]["/api/v1/projects/{key}/events/"]["post"]["requestBody"]
    assert len(body["content"]["application/json"]["schema"]["oneOf"]) == 3
