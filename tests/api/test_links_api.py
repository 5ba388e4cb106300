"""/api/v1/issues/<KEY>/links: read, add and remove an issue's links with the pages' rules."""

import pytest

from issues.models import EventKind, IssueEvent, IssueLink
from issues.services import link_issues
from projects.models import Membership, Role
from tests.factories import make_issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_delete(client):
    def _delete(path, secret):
        return client.delete(path, HTTP_AUTHORIZATION=f"Bearer {secret}")

    return _delete


def test_add_list_and_remove_a_link(api_get, api_post, api_delete, token_of, project, reporter):
    blocker = make_issue(project, reporter, title="Payment API down")
    blocked = make_issue(project, reporter, title="Checkout fails")
    secret = token_of(reporter)

    added = api_post(
        f"/api/v1/issues/{blocker.key}/links", secret, {"target": blocked.key, "kind": "blocks"}
    )
    assert added.status_code == 201, added.content
    body = added.json()
    assert body["kind"] == "blocks" and body["label"] == "blocks" and body["hidden"] is False
    assert body["issue"] == {
        "key": blocked.key,
        "title": "Checkout fails",
        "url": f"http://testserver/issues/{blocked.key}/",
    }
    seen_from_target = api_get(f"/api/v1/issues/{blocked.key}/links", secret).json()
    assert [(r["label"], r["issue"]["key"]) for r in seen_from_target] == [
        ("is blocked by", blocker.key)
    ]
    assert IssueEvent.objects.filter(kind=EventKind.LINKED).count() == 2

    removed = api_delete(f"/api/v1/issues/{blocked.key}/links/{body['id']}", secret)
    assert removed.status_code == 204, removed.content
    assert not IssueLink.objects.exists()
    assert api_get(f"/api/v1/issues/{blocker.key}/links", secret).json() == []
    assert IssueEvent.objects.filter(kind=EventKind.UNLINKED).count() == 2


@pytest.mark.parametrize(
    "payload,status,field",
    [
        ({"target": "WEB-2", "kind": "causes"}, 400, "kind"),
        ({"target": "WEB-1", "kind": "relates"}, 400, "target"),
        ({"target": "WEB-99", "kind": "relates"}, 404, "target"),
        ({"target": "", "kind": "relates"}, 400, "target"),
        ({"kind": "relates"}, 400, "target"),
    ],
)
def test_a_refused_link_says_why_and_writes_nothing(
    api_post, token_of, project, reporter, payload, status, field
):
    first = make_issue(project, reporter)
    make_issue(project, reporter)
    events = IssueEvent.objects.count()
    answer = api_post(f"/api/v1/issues/{first.key}/links", token_of(reporter), payload)
    assert answer.status_code == status, answer.content
    assert answer.json()["field"] == field
    assert not IssueLink.objects.exists() and IssueEvent.objects.count() == events


def test_the_same_link_twice_is_refused(api_post, token_of, project, reporter):
    first, second = make_issue(project, reporter), make_issue(project, reporter)
    secret = token_of(reporter)
    path = f"/api/v1/issues/{first.key}/links"
    assert api_post(path, secret, {"target": second.key, "kind": "relates"}).status_code == 201
    # "relates" has no direction: the reverse is the same link.
    again = api_post(
        f"/api/v1/issues/{second.key}/links", secret, {"target": first.key, "kind": "relates"}
    )
    assert again.status_code == 400 and "already relates to" in again.json()["detail"]
    assert IssueLink.objects.count() == 1


def test_a_link_to_a_hidden_issue_is_listed_without_key_or_title(
    api_get, api_delete, token_of, project, other_project, reporter, outsider
):
    mine = make_issue(project, reporter, title="Visible")
    theirs = make_issue(other_project, outsider, title="Confidential merger")
    Membership.objects.create(project=project, user=outsider, role=Role.DEVELOPER)
    link = link_issues(theirs, target=mine, kind="blocks", actor=outsider)
    secret = token_of(reporter)

    rows = api_get(f"/api/v1/issues/{mine.key}/links", secret)
    assert rows.status_code == 200
    assert rows.json() == [
        {
            "id": link.pk,
            "kind": "blocks",
            "label": "is blocked by",
            "hidden": True,
            "issue": None,
            "text": "a linked issue in a project you cannot see",
        }
    ]
    assert b"Confidential" not in rows.content and theirs.key.encode() not in rows.content
    refused = api_delete(f"/api/v1/issues/{mine.key}/links/{link.pk}", secret)
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert IssueLink.objects.filter(pk=link.pk).exists()
    assert not IssueEvent.objects.filter(kind=EventKind.UNLINKED).exists()


@pytest.mark.parametrize("link_id", ["0", "-1", "9223372036854775808", "99999999999999999999", "x"])
def test_odd_link_ids_are_not_found(api_delete, token_of, project, reporter, link_id):
    issue = make_issue(project, reporter)
    answer = api_delete(f"/api/v1/issues/{issue.key}/links/{link_id}", token_of(reporter))
    assert answer.status_code in (400, 404), answer.content
