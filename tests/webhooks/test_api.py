"""`/api/v1/projects/<KEY>/webhooks` with personal tokens, and the OpenAPI `webhooks`."""

import json

import pytest

from api.services import create_api_token
from webhooks import urlsafety
from webhooks.models import Delivery, EventType, Subscription

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def dns(monkeypatch):
    """Names resolve to a public address (simulated); address literals to themselves."""

    def resolve(host, port):
        return [host] if host[0].isdigit() or ":" in host else ["93.184.216.34"]

    monkeypatch.setattr(urlsafety, "resolve", resolve)


def call(client, method, path, user, data=None):
    token = create_api_token(user, name="script")[1]
    return getattr(client, method)(
        f"/api/v1/projects/{path}",
        data=json.dumps(data) if data is not None else None,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_a_manager_adds_lists_changes_rotates_and_pings(client, project, manager):
    created = call(
        client,
        "post",
        "WEB/webhooks",
        manager,
        {"url": "https://hooks.example.com/ci", "event_types": ["issue.created", "issue.closed"]},
    )
    assert created.status_code == 201, created.content
    body = created.json()
    sub = Subscription.objects.get()
    assert body["secret"] == sub.secret and body["state"] == "active"
    assert body["event_types"] == ["issue.created", "issue.closed"]
    listed = call(client, "get", "WEB/webhooks", manager).json()
    assert [s["id"] for s in listed] == [sub.pk] and "secret" not in listed[0]
    patched = call(client, "patch", f"WEB/webhooks/{sub.pk}", manager, {"active": False})
    assert patched.json()["state"] == "paused"
    rotated = call(client, "post", f"WEB/webhooks/{sub.pk}/rotate-secret", manager).json()
    sub.refresh_from_db()
    assert rotated["secret"] == sub.secret and sub.previous_secret == body["secret"]
    ping = call(client, "post", f"WEB/webhooks/{sub.pk}/ping", manager)
    assert ping.status_code == 202 and ping.json()["type"] == "ping"
    log = call(client, "get", f"WEB/webhooks/{sub.pk}/deliveries", manager).json()
    assert [d["webhook_id"] for d in log] == [Delivery.objects.get().webhook_id]


@pytest.mark.parametrize(
    ("url", "field"),
    [("http://127.0.0.1/", "url"), ("file:///etc/passwd", "url"), ("x" * 3000, "url")],
)
def test_refused_targets_answer_400_and_save_nothing(client, project, manager, url, field):
    response = call(client, "post", "WEB/webhooks", manager, {"url": url})
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert not Subscription.objects.exists()


def test_unknown_event_types_answer_400(client, project, manager):
    response = call(
        client, "post", "WEB/webhooks", manager, {"url": "https://a.example/", "event_types": ["x"]}
    )
    assert response.status_code == 400 and not Subscription.objects.exists()


def test_non_managers_get_403_and_other_projects_404(client, project, manager, developer, outsider):
    assert call(client, "get", "WEB/webhooks", developer).status_code == 403
    assert call(client, "get", "WEB/webhooks", outsider).status_code == 404
    response = call(client, "post", "WEB/webhooks", developer, {"url": "https://a.example/"})
    assert response.status_code == 403 and not Subscription.objects.exists()


def test_the_openapi_document_describes_every_payload_under_webhooks(client):
    doc = client.get("/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert set(doc["webhooks"]) == {*EventType.values, "ping"}
    ref = doc["webhooks"]["issue.sla_at_risk"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]["$ref"]
    envelope = doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert set(envelope["required"]) == {"type", "timestamp", "data"}
    assert envelope["properties"]["type"]["const"] == "issue.sla_at_risk"
    data = doc["components"]["schemas"]["IssueData"]
    assert {"key", "url", "title", "status", "priority", "severity", "owner", "sla"} <= set(
        data["properties"]
    )
    assert "/api/v1/projects/{key}/webhooks" in doc["paths"]
