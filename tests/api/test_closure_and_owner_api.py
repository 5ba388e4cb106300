"""The API shows how an issue was closed, and applies the one owner rule."""

import json

import pytest

from issues.models import Severity, Status
from tests.factories import make_issue
from workflows.services import transition_issue

pytestmark = pytest.mark.django_db


def _post(client, path, secret, data):
    return client.post(
        path, data=json.dumps(data), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )  # fmt: skip


def test_a_tester_cannot_be_made_owner_through_the_api(
    client, token_of, project, reporter, manager, tester
):
    issue = make_issue(project, reporter)
    response = _post(
        client,
        f"/api/v1/issues/{issue.key}/transitions",
        token_of(manager),
        {"to": "assigned", "owner": tester.username},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "owner"
    assert "Developer of the project" in body["detail"]
    issue.refresh_from_db()
    assert (issue.status, issue.owner) == (Status.NEW, None)


def test_closure_fields_in_the_api(client, token_of, project, reporter, manager, developer, tester):
    issue = make_issue(project, reporter, severity=Severity.MAJOR)
    transition_issue(issue, Status.ASSIGNED, actor=manager, owner=developer.pk)
    transition_issue(issue, Status.REVISE, actor=developer)
    transition_issue(issue, Status.RETEST, actor=developer, fix_summary="Pool size")
    transition_issue(issue, Status.FIXED, actor=tester)
    secret = token_of(reporter)
    open_closure = client.get(
        f"/api/v1/issues/{issue.key}", HTTP_AUTHORIZATION=f"Bearer {secret}"
    ).json()["closure"]
    assert open_closure["resolution"] == "" and open_closure["closed_by"] is None
    transition_issue(
        issue,
        Status.CLOSED,
        actor=manager,
        resolution_summary="Raised the pool size",
        root_cause="code",
        lessons_learned="Alert on pool saturation",
    )
    closure = client.get(
        f"/api/v1/issues/{issue.key}", HTTP_AUTHORIZATION=f"Bearer {secret}"
    ).json()["closure"]
    assert closure["resolution"] == "fixed" and closure["resolution_label"] == "Fixed"
    assert closure["resolution_summary"] == "Raised the pool size"
    assert (closure["root_cause"], closure["root_cause_label"]) == ("code", "Code defect")
    assert closure["lessons_learned"] == "Alert on pool saturation"
    assert closure["closed_by"] == "manager"
    assert closure["closed_at"]
