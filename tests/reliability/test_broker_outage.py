"""A broker outage never breaks a user's request: the on-commit enqueue logs the error and the
outbox (IssueEvent.notified_at) keeps the work until the beat catch-up fans it out, once."""

import logging
import smtplib
from datetime import timedelta

import pytest
from kombu.exceptions import OperationalError as BrokerDown

from issues.models import Comment, EventKind, IssueEvent
from notifications import emails
from notifications.models import EmailStatus, Kind, Notification
from notifications.services import process_outbox
from notifications.tasks import process_outbox as outbox_task
from notifications.tasks import send_notification_emails
from tests.factories import make_issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_down(monkeypatch):
    """Every publish fails the way kombu does when Redis refuses connections."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise BrokerDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(outbox_task, "delay", refuse)
    monkeypatch.setattr(send_notification_emails, "delay", refuse)
    return calls


def test_comment_and_transition_succeed_while_the_broker_is_down(
    client, project, manager, developer, reporter, broker_down, caplog, mailoutbox,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    issue = make_issue(project, reporter, title="Checkout button dead")
    issue.watchers.add(reporter)
    client.force_login(manager)
    caplog.set_level(logging.ERROR, logger="notifications.services")
    with django_capture_on_commit_callbacks(execute=True):
        comment = client.post(f"/issues/{issue.key}/comments/", {"body": "Looking into it"})
        moved = client.post(
            f"/issues/{issue.key}/transition/assigned/",
            {"assign-expected_status": "new", "assign-owner": developer.pk},
        )
    assert comment.status_code == 302
    assert moved.status_code == 302
    assert Comment.objects.filter(issue=issue, body="Looking into it").count() == 1
    issue.refresh_from_db()
    assert issue.status == "assigned"
    assert broker_down  # the enqueue was tried, failed, and was logged, not raised
    assert "catch-up beat entry will retry" in caplog.text
    pending = IssueEvent.objects.filter(issue=issue, notified_at__isnull=True)
    assert set(pending.values_list("kind", flat=True)) >= {EventKind.COMMENTED}

    # The broker is back: the beat catch-up fans the outbox out, once however often it runs.
    process_outbox()
    process_outbox()
    assert not IssueEvent.objects.filter(issue=issue, notified_at__isnull=True).exists()
    notes = Notification.objects.filter(issue=issue)
    assert notes.filter(recipient=reporter, kind=Kind.COMMENTED).count() == 1
    assert notes.filter(recipient=developer, kind=Kind.ASSIGNED).exists()
    per_event = list(notes.values_list("event_id", "recipient_id"))
    assert len(per_event) == len(set(per_event))  # nobody told twice about one event


def test_a_permanent_550_is_failed_for_good_and_the_rest_still_go(
    project, manager, developer, reporter, mailoutbox, monkeypatch
):
    issue = make_issue(project, reporter)
    notes = [
        Notification.objects.create(
            recipient=user, kind=Kind.ASSIGNED, issue=issue, summary="s",
            email_status=EmailStatus.PENDING,
        )
        for user in (manager, developer)
    ]  # fmt: skip
    real = emails.build_notification_message

    def build(note):
        if note.recipient_id == manager.pk:
            raise smtplib.SMTPRecipientsRefused({"manager@example.com": (550, b"No such user")})
        return real(note)

    monkeypatch.setattr(emails, "build_notification_message", build)
    assert emails.send_notification_emails([n.pk for n in notes]) == []  # nothing to retry
    failed, sent = (Notification.objects.get(pk=n.pk) for n in notes)
    assert failed.email_status == EmailStatus.FAILED
    assert "550" in failed.email_error
    assert sent.email_status == EmailStatus.SENT
    assert len(mailoutbox) == 1
    # The catch-up never picks a failed email up again.
    assert failed.pk not in emails.unsent(Notification, older_than=timedelta())


def test_a_temporary_421_is_retried():
    assert not emails.is_permanent(smtplib.SMTPDataError(421, b"try later"))
    assert not emails.is_permanent(ConnectionRefusedError())
    assert emails.is_permanent(smtplib.SMTPDataError(554, b"rejected"))
