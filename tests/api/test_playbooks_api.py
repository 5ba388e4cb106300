"""Templates and an issue's playbook in the API: Managers write, the pages' access rules."""

import json

import pytest

from issues.models import IssueType, Status
from playbooks.models import TemplateVersion
from projects.services import create_component
from tests.factories import make_issue
from workflows.services import transition_issue

pytestmark = pytest.mark.django_db

BODY = {
    "description": "## Affected systems",
    "playbook_name": "Security response",
    "items": [{"text": "Rotate affected credentials", "required": True}, {"text": "Notify DPO"}],
    "complete_before": "fixed",
}


def _put(client, path, secret, data):
    return client.put(
        path, data=json.dumps(data), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )  # fmt: skip


def test_manager_writes_and_members_read_templates(
    client, api_get, token_of, project, manager, reporter
):
    path = f"/api/v1/projects/{project.key}/templates/{IssueType.SECURITY}"
    assert _put(client, path, token_of(manager), BODY).status_code == 200
    response = _put(client, path, token_of(manager), {**BODY, "items": [{"text": "Only"}]})
    assert response.json()["version"] == 2
    listed = api_get(f"/api/v1/projects/{project.key}/templates", token_of(reporter)).json()
    assert [(t["type"], t["version"], len(t["items"])) for t in listed] == [("security", 2, 1)]


def test_template_write_refusals(client, token_of, project, developer, manager, outsider):
    path = f"/api/v1/projects/{project.key}/templates/{IssueType.SECURITY}"
    assert _put(client, path, token_of(developer), BODY).status_code == 403
    assert _put(client, path, token_of(outsider), BODY).status_code == 404
    bad = _put(client, path, token_of(manager), {**BODY, "items": [{"text": " "}]})
    assert bad.status_code == 400 and bad.json()["field"] == "items"
    assert not TemplateVersion.objects.exists()


def test_checklist_read_and_tick(
    client, api_get, api_post, token_of, project, manager, developer, reporter, outsider
):
    path = f"/api/v1/projects/{project.key}/templates/{IssueType.SECURITY}"
    _put(client, path, token_of(manager), BODY)
    issue = make_issue(project, reporter, type=IssueType.SECURITY)
    url = f"/api/v1/issues/{issue.key}/checklist"
    assert api_get(url, token_of(developer)).status_code == 404  # copied on Assign only
    transition_issue(issue, Status.ASSIGNED, actor=manager, owner=developer.pk)
    checklist = api_get(url, token_of(reporter)).json()
    assert checklist["progress"] == "0/2"
    item = checklist["items"][0]["id"]
    assert api_post(f"{url}/{item}", token_of(reporter), {"done": True}).status_code == 403
    assert api_post(f"{url}/{item}", token_of(outsider), {"done": True}).status_code == 404
    ticked = api_post(f"{url}/{item}", token_of(developer), {"done": True}).json()
    assert ticked["progress"] == "1/2" and ticked["items"][0]["done_by"] == str(developer)


def test_openapi_lists_the_endpoints(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/projects/{key}/templates/{type}" in paths
    assert "/api/v1/issues/{key}/checklist/{item_id}" in paths


def test_another_projects_component_or_an_unknown_field_is_refused(
    client, token_of, project, other_project, manager, outsider
):
    theirs = create_component(other_project, actor=outsider, name="Their billing")
    path = f"/api/v1/projects/{project.key}/templates/{IssueType.SECURITY}"
    bad = _put(client, path, token_of(manager), {**BODY, "default_component_id": theirs.pk})
    assert bad.status_code == 400 and bad.json()["field"] == "default_component_id"
    bad = _put(client, path, token_of(manager), {**BODY, "shown_fields": ["no-such-field"]})
    assert bad.status_code == 400 and bad.json()["field"] == "shown_fields"
    assert not TemplateVersion.objects.exists()
