"""An event for a Fixed or Closed issue is a regression, handled by project policy."""

import threading

import pytest
from django.db import connection

from intake.models import EventGroup, Regression, RegressionPolicy
from intake.payloads import NormalizedEvent
from intake.services import REOPEN_STATUS, ingest_event
from issues.models import EventKind, Issue, IssueEvent, Resolution, Status

pytestmark = pytest.mark.django_db


def _finish(issue: Issue, status: str, resolution: str = "") -> None:
    # Test set-up only: the workflows app owns status changes (QuerySet.update bypasses it).
    Issue.objects.filter(pk=issue.pk).update(status=status, resolution=resolution)


@pytest.fixture
def first_issue(send):
    send({"title": "Payment declined loop", "fingerprint": "pay-loop"})
    return Issue.objects.get(number=1)


@pytest.mark.parametrize("status", [Status.FIXED, Status.CLOSED])
def test_new_issue_policy_files_a_linked_issue(send, first_issue, intake_settings, status):
    intake_settings.regression_policy = RegressionPolicy.NEW_ISSUE
    intake_settings.save()
    _finish(first_issue, status, Resolution.FIXED if status == Status.CLOSED else "")

    response = send({"title": "Payment declined loop", "fingerprint": "pay-loop"})
    event = response.json()["events"][0]
    assert event["issue"] == "WEB-2"
    assert event["created_issue"] is True
    assert event["regression"] == "new_issue"

    new = Issue.objects.get(number=2)
    assert new.status == Status.NEW
    regression = Regression.objects.get()
    assert (regression.old_issue, regression.new_issue) == (first_issue, new)
    assert IssueEvent.objects.get(issue=new, kind=EventKind.LINKED).data["issue"] == "WEB-1"
    assert IssueEvent.objects.get(issue=first_issue, kind=EventKind.LINKED).data["issue"] == "WEB-2"
    # Later events count on the new issue; the old one stays as it was.
    again = send({"title": "Payment declined loop", "fingerprint": "pay-loop"})
    assert again.json()["events"][0]["issue"] == "WEB-2"
    assert EventGroup.objects.get().count == 3
    first_issue.refresh_from_db()
    assert first_issue.status == status


def test_closed_as_wont_fix_stays_closed_and_only_counts(send, first_issue, intake_settings):
    _finish(first_issue, Status.CLOSED, Resolution.WONT_FIX)
    response = send({"title": "Payment declined loop", "fingerprint": "pay-loop"})
    event = response.json()["events"][0]
    assert (event["issue"], event["count"], event["regression"]) == ("WEB-1", 2, None)
    assert Issue.objects.count() == 1
    assert Regression.objects.count() == 0


def test_open_issue_only_counts(send, first_issue):
    Issue.objects.filter(pk=first_issue.pk).update(status=Status.RETEST)
    send({"title": "Payment declined loop", "fingerprint": "pay-loop"})
    assert Issue.objects.count() == 1
    assert Regression.objects.count() == 0


def test_reopen_policy_calls_the_workflow_transition(send, first_issue, monkeypatch):
    """The call contract with workflows.services.transition_issue (faked here; the real
    reopen is tested end to end once the workflows branch is merged)."""
    calls = []

    def fake_transition(issue, to, *, actor, **data):
        calls.append((issue.pk, to, actor, data))
        return issue

    monkeypatch.setattr("workflows.services.transition_issue", fake_transition)
    _finish(first_issue, Status.FIXED)
    response = send({"title": "Payment declined loop", "fingerprint": "pay-loop"})
    event = response.json()["events"][0]
    assert (event["issue"], event["regression"], event["created_issue"]) == (
        "WEB-1",
        "reopen",
        False,
    )
    assert len(calls) == 1
    pk, to, actor, data = calls[0]
    assert (pk, to, actor) == (first_issue.pk, REOPEN_STATUS, None)
    assert "Regression" in data["reason"]
    assert Regression.objects.get().action == RegressionPolicy.REOPEN
    assert Issue.objects.count() == 1


def test_reopen_refused_by_the_workflow_files_a_new_issue_instead(send, first_issue, monkeypatch):
    from workflows.services import WorkflowError

    def refuse(issue, to, *, actor, **data):
        raise WorkflowError("Closed issues cannot be reopened.")

    monkeypatch.setattr("workflows.services.transition_issue", refuse)
    _finish(first_issue, Status.CLOSED, Resolution.FIXED)
    response = send({"title": "Payment declined loop", "fingerprint": "pay-loop"})
    assert response.json()["events"][0]["issue"] == "WEB-2"
    regression = Regression.objects.get()
    assert regression.action == RegressionPolicy.NEW_ISSUE
    assert "Closed issues cannot be reopened." in regression.note


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_events_of_a_fingerprint_create_one_issue(project, manager):
    """Eight requests with the same new fingerprint at once: one group, one issue."""
    barrier = threading.Barrier(8)
    errors, results = [], []

    def post():
        try:
            barrier.wait(timeout=10)
            results.append(
                ingest_event(
                    project,
                    event=NormalizedEvent(source="generic", title="Race", fingerprint="race"),
                    reporter=manager,
                )
            )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Issue.objects.filter(project=project).count() == 1
    assert EventGroup.objects.get().count == 8
    assert sum(r.created_issue for r in results) == 1
    assert sorted(r.count for r in results) == list(range(1, 9))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_of_one_client_event_id_record_once(project, manager):
    barrier = threading.Barrier(6)
    errors, results = [], []

    def post():
        try:
            barrier.wait(timeout=10)
            results.append(
                ingest_event(
                    project,
                    event=NormalizedEvent(source="generic", title="Dup", event_id="same-id"),
                    reporter=manager,
                )
            )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert EventGroup.objects.get().count == 1
    assert sum(not r.duplicate for r in results) == 1
