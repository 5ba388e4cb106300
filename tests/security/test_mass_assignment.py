"""Mass assignment: fields a form does not offer are ignored, wherever they are posted.

Each request carries the whole list of protected fields; the row afterwards has exactly what
the form offers changed and nothing else."""

import json
from datetime import UTC, datetime

import pytest

from accounts.models import User
from issues.models import Issue, Status
from tests.factories import make_issue

pytestmark = pytest.mark.django_db

LATE = datetime(2031, 1, 1, tzinfo=UTC)


def extras(other_project, outsider) -> dict:
    return {
        "project": other_project.pk,
        "project_id": other_project.pk,
        "reporter": outsider.pk,
        "reporter_id": outsider.pk,
        "number": 999,
        "status": Status.CLOSED,
        "resolution": "wont_fix",
        "response_due_at": LATE.isoformat(),
        "resolution_due_at": LATE.isoformat(),
        "at_risk_at": LATE.isoformat(),
        "sla_paused_at": LATE.isoformat(),
        "sla_cycle": 7,
        "archived_at": LATE.isoformat(),
        "created_at": LATE.isoformat(),
        "is_staff": "on",
        "is_superuser": "on",
        "is_active": "",
        "username": "root",
        "password": "x",
        "author": outsider.pk,
        "uploaded_by": outsider.pk,
    }


PROTECTED = (
    "project_id",
    "number",
    "reporter_id",
    "status",
    "resolution",
    "response_due_at",
    "resolution_due_at",
    "at_risk_at",
    "sla_paused_at",
    "sla_cycle",
    "archived_at",
    "created_at",
)


def _protected(issue: Issue) -> dict:
    issue.refresh_from_db()
    return {f: getattr(issue, f) for f in PROTECTED}


def test_issue_create_ignores_extra_fields(client, project, other_project, reporter, outsider):
    client.force_login(reporter)
    data = {"title": "Checkout slow", "type": "bug", "priority": 2, "severity": 2}
    response = client.post(
        "/issues/new/", {**extras(other_project, outsider), **data, "project": project.pk}
    )
    assert response.status_code == 302, response.content
    issue = Issue.objects.get(title="Checkout slow")
    assert issue.project == project and issue.reporter == reporter
    assert issue.status == Status.NEW and issue.archived_at is None
    assert issue.sla_cycle == 1
    assert issue.resolution_due_at != LATE and issue.response_due_at != LATE
    assert not Issue.objects.filter(project=other_project).exists()


def test_issue_edit_ignores_extra_fields(client, project, other_project, reporter, outsider):
    issue = make_issue(project, reporter, title="Before")
    before = _protected(issue)
    client.force_login(reporter)
    response = client.post(
        f"/issues/{issue.key}/edit/",
        {
            **extras(other_project, outsider),
            "title": "After",
            "type": issue.type,
            "priority": issue.priority,
            "severity": issue.severity,
            "version": issue.version,
        },
    )
    assert response.status_code == 302, response.content
    after = _protected(issue)
    assert issue.title == "After"
    assert after == before


def test_comment_ignores_extra_fields(client, project, other_project, reporter, outsider):
    issue = make_issue(project, reporter)
    before = _protected(issue)
    client.force_login(reporter)
    data = {**extras(other_project, outsider), "body": "Seen again", "issue": 12345}
    response = client.post(f"/issues/{issue.key}/comments/", data)
    assert response.status_code == 302
    comment = issue.comments.get()
    assert comment.author == reporter
    assert _protected(issue) == before


def test_transition_ignores_extra_fields(client, project, other_project, manager, developer):
    issue = make_issue(project, manager)
    before = _protected(issue)
    client.force_login(manager)
    response = client.post(
        f"/issues/{issue.key}/transition/assigned/",
        {
            **extras(other_project, developer),
            "assign-owner": developer.pk,
            "assign-expected_status": "new",
        },
    )
    assert response.status_code == 302, response.content
    after = _protected(issue)
    assert issue.status == Status.ASSIGNED and issue.owner == developer
    # Only the transition's own effects: the status and nothing the request named.
    assert {k: v for k, v in after.items() if k != "status"} == {
        k: v for k, v in before.items() if k != "status"
    }


def test_profile_ignores_extra_fields(client, reporter, other_project, outsider):
    client.force_login(reporter)
    response = client.post(
        "/accounts/profile/",
        {
            **extras(other_project, outsider),
            "display_name": "Rita",
            "first_name": "",
            "last_name": "",
            "email": "reporter@example.com",
            "time_zone": "Europe/Paris",
        },
    )
    assert response.status_code == 302, response.content
    user = User.objects.get(pk=reporter.pk)
    assert user.display_name == "Rita"
    assert (user.username, user.is_staff, user.is_superuser, user.is_active) == (
        "reporter",
        False,
        False,
        True,
    )
    assert user.check_password("correct-horse-battery")


def test_api_create_ignores_extra_fields(client, project, other_project, reporter, outsider):
    from api.services import create_api_token

    secret = create_api_token(reporter, name="script")[1]
    payload = {**extras(other_project, outsider), "project": "WEB", "title": "From a script"}
    response = client.post(
        "/api/v1/issues",
        json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 201, response.content
    issue = Issue.objects.get(title="From a script")
    assert issue.project == project and issue.reporter == reporter
    assert issue.status == Status.NEW and issue.archived_at is None and issue.number == 1
    assert issue.resolution_due_at != LATE
