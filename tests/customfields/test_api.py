"""Custom fields in the API: `custom_fields` keyed by slug, read and write, all or nothing."""

import json

import pytest

from customfields.models import CustomFieldValue, FieldKind
from customfields.services import create_custom_field, set_custom_values
from issues.models import EventKind, Issue, IssueEvent
from tests.factories import make_issue

from .conftest import option

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_patch(client):
    def _patch(path, secret, data):
        return client.patch(
            path,
            data=json.dumps(data),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        )

    return _patch


@pytest.fixture
def more(project):
    return [
        create_custom_field(
            project, name="Areas", slug="areas", kind=FieldKind.MULTI_CHOICE, options="API\nUI"
        ),
        create_custom_field(project, name="Contact", slug="contact", kind=FieldKind.USER),
        create_custom_field(project, name="Hotfix", slug="hotfix", kind=FieldKind.CHECKBOX),
        create_custom_field(project, name="Due", slug="due", kind=FieldKind.DATE),
        create_custom_field(project, name="Link", slug="link", kind=FieldKind.URL),
    ]


def test_file_and_read_with_custom_fields(
    api_post, api_get, token_of, project, reporter, developer, affected, environment, more
):
    secret = token_of(reporter)
    response = api_post(
        "/api/v1/issues",
        secret,
        {
            "project": "WEB",
            "title": "Checkout fails",
            "custom_fields": {
                "affected_customers": 12,
                "env": "Production",
                "areas": ["UI", "API"],
                "contact": "developer",
                "hotfix": True,
                "due": "2026-12-24",
                "link": "https://status.example.com/1",
            },
        },
    )
    assert response.status_code == 201, response.json()
    assert response.json()["custom_fields"] == {
        "affected_customers": 12,
        "env": "Production",
        "areas": ["API", "UI"],
        "contact": "developer",
        "hotfix": True,
        "due": "2026-12-24",
        "link": "https://status.example.com/1",
    }
    key = response.json()["key"]
    assert api_get(f"/api/v1/issues/{key}", secret).json()["custom_fields"]["env"] == "Production"
    listed = api_get(f"/api/v1/issues?cf_env={option(environment, 'Production').pk}", secret).json()
    assert [r["key"] for r in listed["results"]] == [key]
    assert listed["results"][0]["custom_fields"]["affected_customers"] == 12


@pytest.mark.parametrize(
    ("custom", "field", "words"),
    [
        ({"affected_customers": "many"}, "custom_fields.affected_customers", "not a number"),
        ({"affected_customers": [1]}, "custom_fields.affected_customers", "expected a number"),
        ({"affected_customers": True}, "custom_fields.affected_customers", "expected a number"),
        ({"env": "Mars"}, "custom_fields.env", "not one of its choices"),
        ({"env": 999999}, "custom_fields.env", "not one of its choices"),
        ({"env": {"label": "Production"}}, "custom_fields.env", "expected one of its choices"),
        ({"areas": "UI"}, "custom_fields.areas", "expected a list"),
        ({"contact": "outsider"}, "custom_fields.contact", "not a member"),
        ({"hotfix": "yes"}, "custom_fields.hotfix", "expected true or false"),
        ({"due": "tomorrow"}, "custom_fields.due", "not a date"),
        ({"link": "ftp://x"}, "custom_fields.link", "not a web address"),
        ({"region": "EU"}, "custom_fields.region", "No custom field “region” in WEB"),
    ],
)
def test_bad_custom_values_answer_400_and_file_nothing(
    api_post,
    token_of,
    project,
    other_project,
    reporter,
    outsider,
    affected,
    environment,
    more,
    custom,
    field,
    words,
):
    # `region` is a field of OPS: unknown in WEB.
    create_custom_field(other_project, name="Region", slug="region", kind=FieldKind.TEXT)
    response = api_post(
        "/api/v1/issues",
        token_of(reporter),
        {"project": "WEB", "title": "Bad", "custom_fields": custom},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == field
    assert words in json.dumps(body, ensure_ascii=False)
    assert not Issue.objects.exists()


def test_patch_custom_fields_is_audited_and_all_or_nothing(
    api_patch, token_of, project, reporter, affected, environment
):
    issue = make_issue(project, reporter)
    secret = token_of(reporter)
    url = f"/api/v1/issues/{issue.key}/custom-fields"
    ok = api_patch(url, secret, {"custom_fields": {"env": "Staging"}})
    assert ok.status_code == 200
    assert ok.json()["custom_fields"] == {"affected_customers": None, "env": "Staging"}
    refused = api_patch(
        url, secret, {"custom_fields": {"env": "Production", "affected_customers": "x"}}
    )
    assert refused.status_code == 400
    assert CustomFieldValue.objects.get(issue=issue).option.label == "Staging"
    event = IssueEvent.objects.get(issue=issue, kind=EventKind.CHANGED)
    assert (event.field, event.old_value, event.new_value) == ("cf:env", "", "Staging")
    cleared = api_patch(url, secret, {"custom_fields": {"env": None}})
    assert cleared.json()["custom_fields"]["env"] is None


def test_another_projects_issue_and_fields_stay_hidden(
    api_patch, api_get, token_of, project, other_project, reporter, outsider, environment
):
    issue = make_issue(project, reporter)
    set_custom_values(issue, actor=reporter, values={"env": "Production"})
    secret = token_of(outsider)
    assert api_get(f"/api/v1/issues/{issue.key}", secret).status_code == 404
    patched = api_patch(
        f"/api/v1/issues/{issue.key}/custom-fields", secret, {"custom_fields": {"env": "Local"}}
    )
    assert patched.status_code == 404
    mine = make_issue(other_project, outsider)
    refused = api_patch(
        f"/api/v1/issues/{mine.key}/custom-fields", secret, {"custom_fields": {"env": "Local"}}
    )
    assert refused.status_code == 400
    assert refused.json()["field"] == "custom_fields.env"
    assert "Production" not in json.dumps(api_get("/api/v1/issues", secret).json())


def test_openapi_describes_custom_fields(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/issues/{key}/custom-fields" in schema["paths"]
    assert "custom_fields" in schema["components"]["schemas"]["IssueIn"]["properties"]
    assert "custom_fields" in schema["components"]["schemas"]["IssueOut"]["properties"]
    assert "custom_fields" in schema["components"]["schemas"]["IssueSummaryOut"]["properties"]
