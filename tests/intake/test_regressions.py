"""An event for a Fixed or Closed issue is a regression, handled by project policy."""

import threading

import pytest
from django.db import connection

from intake.models import EventGroup, Regression, RegressionPolicy
from intake.payloads import NormalizedEvent
from intake.services import REOPEN_STATUS, ingest_event
from issues.models import EventKind, Issue, IssueEvent, IssueLink, LinkKind, Resolution, Status
from workflows.services import WorkflowError, transition_issue

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
    # An ordinary "relates to" link, on both issues' pages and audit trails.
    link = IssueLink.objects.get()
    assert (link.source, link.target, link.kind) == (new, first_issue, LinkKind.RELATES)
    assert IssueEvent.objects.get(issue=new, kind=EventKind.LINKED).new_value == "WEB-1"
    assert IssueEvent.objects.get(issue=first_issue, kind=EventKind.LINKED).new_value == "WEB-2"
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


def _walk_to(issue: Issue, status: str, *, manager, developer, tester, reporter) -> Issue:
    """The real lifecycle (workflows service) to Fixed or Closed."""
    issue = transition_issue(issue, Status.ASSIGNED, actor=manager, owner=developer.pk)
    issue = transition_issue(issue, Status.REVISE, actor=developer)
    issue = transition_issue(issue, Status.RETEST, actor=developer, fix_summary="Retry guard")
    issue = transition_issue(issue, Status.FIXED, actor=tester)
    if status == Status.CLOSED:
        issue = transition_issue(
            issue,
            Status.CLOSED,
            actor=manager,
            resolution_summary="Guarded",
            root_cause="code",
            lessons_learned="Test retries",
        )
    return issue


@pytest.mark.parametrize("status", [Status.FIXED, Status.CLOSED])
def test_reopen_policy_reopens_through_the_workflow(
    send, first_issue, status, manager, developer, tester, reporter, mailoutbox
):
    issue = _walk_to(
        first_issue,
        status,
        manager=manager,
        developer=developer,
        tester=tester,
        reporter=reporter,
    )
    assert issue.sla_cycle == 1
    response = send({"title": "Payment declined loop", "fingerprint": "pay-loop"})
    event = response.json()["events"][0]
    assert (event["issue"], event["regression"], event["created_issue"]) == (
        "WEB-1",
        "reopen",
        False,
    )
    issue.refresh_from_db()
    assert (issue.status, issue.owner, issue.resolution) == (REOPEN_STATUS, developer, "")
    assert issue.sla_cycle == 2  # a new SLA cycle
    assert issue.resolution_due_at is not None
    audit = IssueEvent.objects.filter(issue=issue, kind=EventKind.TRANSITIONED).latest("id")
    assert audit.actor is None
    assert (audit.old_value, audit.new_value) == (status, Status.ASSIGNED)
    assert audit.data["transition"] == "regress"
    assert "Regression" in audit.data["reopen_reason"]
    assert Regression.objects.get().action == RegressionPolicy.REOPEN
    assert Issue.objects.count() == 1
    # The owner hears about it through the normal TRANSITIONED notification.
    from notifications.models import Notification
    from notifications.services import process_outbox

    process_outbox()
    assert Notification.objects.filter(recipient=developer, issue=issue, event=audit).exists()
    # Further events only count on the reopened issue.
    send({"title": "Payment declined loop", "fingerprint": "pay-loop"})
    assert Regression.objects.count() == 1
    assert EventGroup.objects.get().count == 3


def test_reopen_policy_without_an_owner_files_a_linked_issue(send, first_issue):
    # Fixed without an owner (only possible for data from before the workflow).
    _finish(first_issue, Status.FIXED)
    response = send({"title": "Payment declined loop", "fingerprint": "pay-loop"})
    event = response.json()["events"][0]
    assert (event["issue"], event["regression"], event["created_issue"]) == (
        "WEB-2",
        "new_issue",
        True,
    )
    first_issue.refresh_from_db()
    assert first_issue.status == Status.FIXED
    regression = Regression.objects.get()
    assert regression.action == RegressionPolicy.NEW_ISSUE
    assert "has no owner" in regression.note
    assert IssueLink.objects.get().target == first_issue


def test_won_t_fix_through_the_workflow_stays_closed(send, first_issue, manager):
    transition_issue(first_issue, Status.CLOSED, actor=manager, resolution=Resolution.WONT_FIX)
    response = send({"title": "Payment declined loop", "fingerprint": "pay-loop"})
    event = response.json()["events"][0]
    assert (event["issue"], event["count"], event["regression"]) == ("WEB-1", 2, None)
    first_issue.refresh_from_db()
    assert first_issue.status == Status.CLOSED
    assert Regression.objects.count() == 0


def test_system_rows_are_never_buttons(first_issue, manager):
    from workflows.selectors import available_transitions
    from workflows.transitions import SYSTEM_TRANSITIONS, find_transition

    Issue.objects.filter(pk=first_issue.pk).update(status=Status.FIXED)
    first_issue.refresh_from_db()
    names = {t.name for t in available_transitions(first_issue, manager)}
    assert not names & {t.name for t in SYSTEM_TRANSITIONS}
    assert find_transition(Status.FIXED, Status.ASSIGNED) is None
    with pytest.raises(WorkflowError):
        transition_issue(first_issue, Status.ASSIGNED, actor=manager, reopen_reason="x")


def _ingest_concurrently(project, reporter, event: NormalizedEvent, n: int) -> list:
    """`n` threads ingest `event` at the same instant (a barrier); each uses its own connection."""
    barrier = threading.Barrier(n)
    errors, results = [], []

    def post():
        try:
            barrier.wait(timeout=10)
            results.append(ingest_event(project, event=event, reporter=reporter))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_events_of_a_fingerprint_create_one_issue(project, manager):
    """Eight requests with the same new fingerprint at once: one group, one issue."""
    event = NormalizedEvent(source="generic", title="Race", fingerprint="race")
    results = _ingest_concurrently(project, manager, event, 8)
    assert Issue.objects.filter(project=project).count() == 1
    assert EventGroup.objects.get().count == 8
    assert sum(r.created_issue for r in results) == 1
    assert sorted(r.count for r in results) == list(range(1, 9))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_of_one_client_event_id_record_once(project, manager):
    event = NormalizedEvent(source="generic", title="Dup", event_id="same-id")
    results = _ingest_concurrently(project, manager, event, 6)
    assert EventGroup.objects.get().count == 1
    assert sum(not r.duplicate for r in results) == 1
