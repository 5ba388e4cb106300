"""POST /api/v1/projects/<KEY>/events/: formats, grouping, thresholds, idempotency."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from intake.models import DailyCount, EventGroup, Occurrence
from issues.models import EventKind, Issue, IssueEvent, Severity

from .conftest import load_payload

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)


def test_generic_event_files_an_issue_with_the_documented_fields(send, project, manager):
    response = send(load_payload("generic.json"))
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["format"] == "generic"
    assert body["accepted"] == 1
    event = body["events"][0]
    assert event["issue"] == "WEB-1"
    assert event["created_issue"] is True
    assert event["count"] == 1

    issue = Issue.objects.get(project=project, number=1)
    assert issue.title == "Checkout times out"
    assert issue.severity == Severity.MAJOR  # "error" -> Major by default
    assert issue.environment == "production"
    assert issue.affected_version.name == "2.4.1"
    assert issue.reporter == manager  # the token's creator files on the tool's behalf
    assert "Timeout after 30000 ms" in issue.description
    assert IssueEvent.objects.filter(issue=issue, kind=EventKind.CREATED).count() == 1
    occurrence = Occurrence.objects.get()
    assert occurrence.event_id == "checkout-timeout-0001"
    assert occurrence.tags == {"component": "checkout", "region": "eu-west-1"}
    assert occurrence.extra == {"order": 81234, "gateway": "acme-pay"}


def test_repeats_group_into_one_issue_with_count_first_and_last_seen(send, project):
    with time_machine.travel(T0, tick=False):
        send({"title": "Cart empty after login", "message": "session 8812 lost"})
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        second = send({"title": "Cart empty after login", "message": "session 17 lost"})
    assert second.status_code == 202
    assert second.json()["events"][0] == {
        **second.json()["events"][0],
        "issue": "WEB-1",
        "created_issue": False,
        "count": 2,
    }
    group = EventGroup.objects.get()
    assert group.count == 2
    assert group.first_seen == T0
    assert group.last_seen == T0 + timedelta(hours=3)
    assert Issue.objects.filter(project=project).count() == 1


def test_fingerprint_is_derived_from_title_and_normalised_message(send):
    send({"title": "User not found", "message": "User 42 not found in 'eu-1' at 0x7ffe12"})
    send({"title": "User not found", "message": "User 7 not found in 'us-2' at 0x11aa00"})
    send({"title": "User not found", "message": "Database unreachable"})
    send({"title": "Other title", "message": "User 7 not found in 'us-2' at 0x11aa00"})
    counts = sorted(EventGroup.objects.values_list("count", flat=True))
    assert counts == [1, 1, 2]


def test_explicit_fingerprint_groups_different_titles(send):
    send({"title": "Timeout in payments", "fingerprint": "payments-timeout"})
    send({"title": "Payments timed out again", "fingerprint": "payments-timeout"})
    assert EventGroup.objects.get().count == 2
    assert Issue.objects.count() == 1


def test_per_day_counts(send):
    for day_offset, times in ((0, 2), (1, 3)):
        with time_machine.travel(T0 + timedelta(days=day_offset), tick=False):
            for _ in range(times):
                send({"title": "Slow search"})
    assert list(DailyCount.objects.values_list("day", "count")) == [
        (date(2026, 1, 31), 2),
        (date(2026, 2, 1), 3),
    ]


def test_threshold_within_window_decides_when_a_group_becomes_an_issue(send, intake_settings):
    intake_settings.threshold = 3
    intake_settings.window_minutes = 10
    intake_settings.save()
    with time_machine.travel(T0, tick=False):
        send({"title": "Flaky health check"})
    # The first event is outside the window of the third: still no issue.
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        r = send({"title": "Flaky health check"})
        assert r.json()["events"][0]["issue"] is None
    with time_machine.travel(T0 + timedelta(minutes=35), tick=False):
        r = send({"title": "Flaky health check"})
        assert r.json()["events"][0]["issue"] is None
    assert Issue.objects.count() == 0
    with time_machine.travel(T0 + timedelta(minutes=38), tick=False):
        r = send({"title": "Flaky health check"})
    event = r.json()["events"][0]
    assert event["created_issue"] is True
    assert event["issue"] == "WEB-1"
    assert event["count"] == 4


def test_level_to_severity_is_configurable_per_project(send, intake_settings):
    intake_settings.level_severity = {**intake_settings.level_severity, "warning": 4}
    intake_settings.save()
    send({"title": "Certificate expires in 3 days", "level": "warning"})
    send({"title": "Debug noise", "level": "debug"})
    severities = dict(Issue.objects.values_list("title", "severity"))
    assert severities == {
        "Certificate expires in 3 days": Severity.CRITICAL,
        "Debug noise": Severity.TRIVIAL,
    }


def test_same_client_event_id_is_recorded_once(send):
    first = send({"title": "Checkout times out", "event_id": "abc-1"})
    again = send({"title": "Checkout times out", "event_id": "abc-1"})
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["duplicates"] == 1
    assert again.json()["events"][0]["duplicate"] is True
    assert again.json()["events"][0]["issue"] == "WEB-1"
    assert Occurrence.objects.count() == 1
    assert EventGroup.objects.get().count == 1


def test_sentry_issue_alert_payload(send, project):
    payload = load_payload("sentry_issue_alert.json")
    response = send(payload)
    assert response.status_code == 202, response.content
    assert response.json()["format"] == "sentry"
    issue = Issue.objects.get(project=project)
    assert issue.title == "ReferenceError: heck is not defined"
    assert issue.environment == "production"
    assert issue.affected_version.name == "shop@2.4.1"
    group = EventGroup.objects.get()
    assert group.fingerprint_text == "fp:sentry:1117540176"
    assert group.component == "checkout"
    occurrence = Occurrence.objects.get()
    assert occurrence.url.startswith("https://sentry.io/organizations/acme/issues/1117540176/")
    assert occurrence.extra["rule"] == "Send a notification for new issues"

    # Another event of the same Sentry issue joins the group.
    payload["data"]["event"]["event_id"] = "0d6f3f0bd7c44a4c9d1d6e8d0b1a2c3d"
    assert send(payload).json()["events"][0]["count"] == 2
    # The same Sentry event delivered twice is recorded once.
    assert send(payload).json()["duplicates"] == 1


def test_sentry_token_in_query_parameter(send, intake_token):
    payload = load_payload("sentry_issue_alert.json")
    response = send(payload, query=f"?format=sentry&token={intake_token[1]}", headers={})
    assert response.status_code == 202


def test_alertmanager_webhook_payload(send, project):
    payload = load_payload("alertmanager_firing.json")
    response = send(payload)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["format"] == "alertmanager"
    assert (body["accepted"], body["ignored"]) == (2, 1)  # the resolved alert is ignored
    issues = dict(Issue.objects.filter(project=project).values_list("title", "severity"))
    assert issues == {
        "5xx error rate above 5 % on api": Severity.CRITICAL,
        "Disk on db-1 is 91 % full": Severity.MINOR,
    }
    payments = EventGroup.objects.get(fingerprint_text="fp:alertmanager:3b8b1c52b0f2a1c4")
    assert payments.component == "payments"
    assert payments.last_environment == "production"

    # Alertmanager re-sends a firing alert every repeat_interval: the same occurrence.
    again = send(payload)
    assert again.status_code == 200
    assert again.json()["duplicates"] == 2
    assert Occurrence.objects.count() == 2


def test_a_failure_while_filing_leaves_nothing_half_created(project, manager, monkeypatch):
    from intake import services
    from intake.payloads import NormalizedEvent

    def explode(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services.filing, "create_issue", explode)
    with pytest.raises(RuntimeError):
        services.ingest_event(
            project, event=NormalizedEvent(source="generic", title="Boom"), reporter=manager
        )
    assert EventGroup.objects.count() == 0
    assert Occurrence.objects.count() == 0
    assert DailyCount.objects.count() == 0
    assert Issue.objects.count() == 0
