"""Components and versions in the API: read and write, OpenAPI, access from other projects."""

import json

import pytest

from projects.models import Component
from projects.services import create_component, create_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def shape(project, other_project, manager, outsider):
    return {
        "checkout": create_component(project, actor=manager, name="Checkout"),
        "foreign": create_component(other_project, actor=outsider, name="Pipelines"),
        "v25": create_version(project, actor=manager, name="2.5"),
    }


def _patch(client, path, secret, data):
    return client.patch(
        path, data=json.dumps(data), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )  # fmt: skip


def test_file_an_issue_with_component_and_versions_and_read_them(
    api_post, api_get, token_of, reporter, shape
):
    secret = token_of(reporter)
    created = api_post(
        "/api/v1/issues",
        secret,
        {"project": "WEB", "title": "Pay fails", "component": "Checkout", "fix_version": "2.5"},
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["component"], body["fix_version"], body["affected_version"]) == (
        "Checkout",
        "2.5",
        None,
    )
    listed = api_get(f"/api/v1/issues?component={shape['checkout'].pk}", secret).json()
    assert [r["component"] for r in listed["results"]] == ["Checkout"]


def test_another_projects_component_is_refused_with_a_clear_422(
    api_post, token_of, reporter, shape, project
):
    response = api_post(
        "/api/v1/issues",
        token_of(reporter),
        {"project": "WEB", "title": "x", "component": "Pipelines"},
    )
    assert response.status_code == 422
    assert response.json() == {
        "error": "invalid_field",
        "detail": "WEB has no component called “Pipelines”.",
        "field": "component",
    }
    assert not project.issues.exists()


def test_patch_sets_and_clears_the_issues_shape(client, api_post, token_of, reporter, shape):
    secret = token_of(reporter)
    key = api_post("/api/v1/issues", secret, {"project": "WEB", "title": "x"}).json()["key"]
    response = _patch(client, f"/api/v1/issues/{key}", secret, {"component": "Checkout"})
    assert response.status_code == 200 and response.json()["component"] == "Checkout"
    refused = _patch(client, f"/api/v1/issues/{key}", secret, {"fix_version": "ops-9"})
    assert refused.status_code == 422 and refused.json()["field"] == "fix_version"
    cleared = _patch(client, f"/api/v1/issues/{key}", secret, {"component": None})
    assert cleared.json()["component"] is None


def test_components_and_versions_are_listed_for_members_only(
    api_get, api_post, token_of, reporter, manager, outsider, shape
):
    assert [
        c["name"] for c in api_get("/api/v1/projects/WEB/components", token_of(reporter)).json()
    ] == ["Checkout"]
    assert [
        v["name"] for v in api_get("/api/v1/projects/WEB/versions", token_of(reporter)).json()
    ] == ["2.5"]
    outsider_secret = token_of(outsider)
    for path in ("/api/v1/projects/WEB/components", "/api/v1/projects/WEB/versions"):
        response = api_get(path, outsider_secret)
        assert response.status_code == 404 and b"Checkout" not in response.content
    # Writing: Managers only (403), duplicates 422.
    assert (
        api_post("/api/v1/projects/WEB/components", token_of(reporter), {"name": "X"}).status_code
        == 403
    )
    assert (
        api_post(
            "/api/v1/projects/WEB/components", token_of(manager), {"name": "Search"}
        ).status_code
        == 201
    )
    dup = api_post("/api/v1/projects/WEB/components", token_of(manager), {"name": "Search"})
    assert dup.status_code == 422 and dup.json()["field"] == "name"
    assert Component.objects.filter(project__key="WEB").count() == 2


def test_openapi_describes_components_and_versions(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/projects/{key}/components" in schema["paths"]
    assert "/api/v1/projects/{key}/versions" in schema["paths"]
    assert "patch" in schema["paths"]["/api/v1/issues/{key}"]
    assert "component" in schema["components"]["schemas"]["IssueIn"]["properties"]
