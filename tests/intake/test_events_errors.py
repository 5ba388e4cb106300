"""Every bad input answers a JSON error naming the problem; nothing is recorded."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from api.services import create_api_token
from intake.models import EventGroup, Occurrence
from intake.payloads import MAX_BODY_BYTES
from intake.services import create_intake_token, revoke_intake_token
from issues.models import Issue

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("raw", "error", "field"),
    [
        ("{not json", "malformed_json", ""),
        ("", "empty_body", ""),
        ("[1, 2]", "invalid_body", ""),
        ('"just a string"', "invalid_body", ""),
        ("{}", "missing_field", "title"),
        ('{"title": ""}', "invalid_field", "title"),
        ('{"title": "   "}', "invalid_field", "title"),
        (json.dumps({"title": "x" * 201}), "invalid_field", "title"),
        ('{"title": "t", "level": "catastrophic"}', "invalid_field", "level"),
        ('{"title": "t", "timestamp": "yesterday"}', "invalid_field", "timestamp"),
        ('{"title": "t", "timestamp": "0005-01-01T00:00:00Z"}', "invalid_field", "timestamp"),
        ('{"title": "t", "tags": ["a", "b"]}', "invalid_field", "tags"),
        ('{"title": "t", "tags": {"a": {"b": 1}}}', "invalid_field", "tags.a"),
        ('{"title": "t", "extra": 5}', "invalid_field", "extra"),
        ('{"title": 42}', "invalid_field", "title"),
        ('{"title": "t", "event_id": ""}', "invalid_field", "event_id"),
        ('{"data": {"event": {"level": "error"}}}', "missing_field", "data.event.title"),
        ('{"data": {"event": "oops"}}', "invalid_event", "data.event"),
        ('{"version": "4", "alerts": [{"labels": {}}]}', "missing_field", "alerts.0.status"),
        (
            '{"version": "4", "alerts": [{"status": "firing", "labels": {"job": "x"}}]}',
            "missing_field",
            "alerts.labels.alertname",
        ),
        ('{"version": "4", "alerts": "none"}', "invalid_field", "alerts"),
    ],
)
def test_bad_input_is_400_with_a_json_error_naming_it(send, raw, error, field):
    response = send(None, raw=raw)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == error
    assert body["field"] == field
    assert body["detail"]
    assert EventGroup.objects.count() == 0
    assert Occurrence.objects.count() == 0
    assert Issue.objects.count() == 0


def test_oversize_body_is_400(send):
    response = send({"title": "big", "message": "x" * 100, "extra": {"blob": "y" * MAX_BODY_BYTES}})
    assert response.status_code == 400
    assert response.json()["error"] == "body_too_large"
    assert Occurrence.objects.count() == 0


def test_unknown_format_parameter_is_400(send):
    response = send({"title": "t"}, query="?format=nagios")
    assert response.status_code == 400
    assert response.json()["field"] == "format"


def test_nul_characters_and_lone_surrogates_are_cleaned_not_500(send):
    response = send(None, raw='{"title": "bad\\u0000title \\ud800", "tags": {"k\\u0000": "v"}}')
    assert response.status_code == 202
    assert Issue.objects.get().title == "badtitle ?"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_AUTHORIZATION": "Bearer rsi_wrong"},
        {"HTTP_AUTHORIZATION": "Basic dXNlcjpwdw=="},
        {"HTTP_AUTHORIZATION": "Bearer"},
    ],
)
def test_missing_or_wrong_token_is_401(send, headers):
    response = send({"title": "t"}, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response["WWW-Authenticate"] == "Bearer"
    assert Occurrence.objects.count() == 0


def test_revoked_token_is_401(send, intake_token, manager):
    assert send({"title": "before"}).status_code == 202
    revoke_intake_token(intake_token[0], actor=manager)
    response = send({"title": "after"})
    assert response.status_code == 401
    assert Occurrence.objects.count() == 1


def test_personal_api_token_cannot_post_events(send, manager):
    _, secret = create_api_token(manager, name="script")
    assert send({"title": "t"}, secret=secret).status_code == 401


def test_unknown_project_or_another_projects_token_is_404(send, other_project, outsider):
    assert send({"title": "t"}, key="NOPE").status_code == 404
    # A valid token of OPS cannot post to WEB, and the answer does not say whether WEB exists.
    _, ops_secret = create_intake_token(other_project, name="ops", actor=outsider)
    response = send({"title": "t"}, key="WEB", secret=ops_secret)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert send({"title": "t"}, key="OPS", secret=ops_secret).status_code == 202


def test_rate_limit_per_token_answers_429_with_retry_after(send, intake_settings, project, manager):
    intake_settings.rate_limit_per_minute = 3
    intake_settings.save()
    other_token = create_intake_token(project, name="second", actor=manager)[1]
    start = datetime(2026, 1, 31, 10, 0, 15, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        for _ in range(3):
            assert send({"title": "noisy"}).status_code == 202
        limited = send({"title": "noisy"})
        assert limited.status_code == 429
        assert limited["Retry-After"] == "45"
        assert limited.json()["error"] == "rate_limited"
        # Each token has its own budget.
        assert send({"title": "noisy"}, secret=other_token).status_code == 202
    with time_machine.travel(start + timedelta(seconds=45), tick=False):
        assert send({"title": "noisy"}).status_code == 202
    assert EventGroup.objects.get().count == 5
