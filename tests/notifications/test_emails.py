import smtplib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.mail.backends.locmem import EmailBackend
from django.urls import reverse
from django.utils import timezone

from notifications import emails, services
from notifications.models import (
    DigestEmail,
    EmailStatus,
    Kind,
    Mode,
    Notification,
    NotificationPreference,
)
from tests.factories import make_issue
from workflows.models import CheckpointKind
from workflows.services import transition_issue

from .conftest import checkpoint, due_issue

pytestmark = pytest.mark.django_db


def test_smtp_failure_keeps_the_email_for_the_retry_and_sends_it_once(
    project, developer, reporter, mailoutbox, monkeypatch
):
    issue = due_issue(project, reporter, owner=developer, hours_left=0)
    checkpoint(issue, CheckpointKind.RESOLUTION_BREACH, due_at=timezone.now())
    services.sweep_sla()
    note = Notification.objects.get()
    real_send = EmailBackend.send_messages

    def refuse(self, messages):
        raise smtplib.SMTPServerDisconnected("421 try again later")

    monkeypatch.setattr(EmailBackend, "send_messages", refuse)
    assert emails.send_notification_emails([note.id]) == [note.id]
    note.refresh_from_db()
    assert (note.email_status, note.email_attempts) == (EmailStatus.PENDING, 1)
    assert "421" in note.email_error
    monkeypatch.setattr(EmailBackend, "send_messages", real_send)
    assert emails.send_notification_emails([note.id, note.id]) == []
    assert emails.send_notification_emails([note.id]) == []
    assert len(mailoutbox) == 1
    assert "SLA breached" in mailoutbox[0].subject
    note.refresh_from_db()
    assert note.email_status == EmailStatus.SENT and note.email_sent_at is not None


def test_a_dead_senders_claim_expires_and_the_catch_up_requeues(
    project, developer, reporter, mailoutbox
):
    issue = due_issue(project, reporter, owner=developer)
    checkpoint(issue, due_at=timezone.now())
    services.sweep_sla()
    note = Notification.objects.get()
    # A sender claimed it and was killed before sending.
    assert emails._claim(Notification, note.id, timezone.now())
    assert emails.send_notification_emails([note.id]) == []
    assert mailoutbox == []
    with time_machine.travel(timezone.now() + timedelta(minutes=6), tick=False):
        assert emails.unsent(Notification, older_than=timedelta(minutes=2)) == [note.id]
        emails.send_notification_emails([note.id])
    assert len(mailoutbox) == 1


def test_digest_mode_batches_into_one_email(
    project, manager, developer, tester, reporter, mailoutbox
):
    NotificationPreference.objects.create(user=tester, kind=Kind.STATUS_CHANGED, mode=Mode.DIGEST)
    # The new owner reads it in the inbox: the only email is the tester's digest.
    NotificationPreference.objects.create(user=developer, kind=Kind.ASSIGNED, mode=Mode.INBOX)
    a, b = (
        make_issue(project, reporter, title="First"),
        make_issue(project, reporter, title="Second"),
    )
    for issue in (a, b):
        issue.watchers.add(tester)
        # Assigned through the workflow: the tester, a watcher, hears of the status change.
        transition_issue(issue, "assigned", actor=manager, owner=developer)
    services.process_outbox()
    ids = emails.batch_digest_emails()
    assert emails.batch_digest_emails() == []
    assert len(ids) == 1
    emails.send_digest_emails(ids)
    emails.send_digest_emails(ids)
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [tester.email]
    assert mail.subject == "[Resolve] 2 updates on your issues"
    assert (
        "First" in mail.body and "Second" in mail.body and "Second" in mail.alternatives[0].content
    )
    assert DigestEmail.objects.get().email_status == EmailStatus.SENT


def test_daily_digest_at_the_managers_local_hour_once(
    project, manager, developer, reporter, mailoutbox, settings
):
    settings.SLA_DIGEST_HOUR = 8
    manager.time_zone = "Europe/Berlin"
    manager.save(update_fields=["time_zone"])
    start = datetime(2026, 11, 24, 6, 30, tzinfo=ZoneInfo("UTC"))  # 07:30 in Berlin
    with time_machine.travel(start, tick=False):
        late = due_issue(project, reporter, owner=developer, hours_left=-1, title="Late one")
        risky = due_issue(project, reporter, owner=developer, hours_left=3, title="Risky one")
        due_issue(project, reporter, owner=developer, hours_left=30)
        assert services.create_daily_digests() == 0
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        assert services.create_daily_digests() == 1
        assert services.create_daily_digests() == 0
        note = Notification.objects.get(kind=Kind.DAILY_DIGEST)
        emails.send_notification_emails([note.id])
    assert note.recipient == manager
    assert note.data == {"at_risk": [risky.id], "breached": [late.id]}
    mail = mailoutbox[0]
    assert mail.subject == "[Resolve] Daily SLA digest: 1 at risk, 1 breached"
    assert late.key in mail.body and "Risky one" in mail.alternatives[0].content


def test_who_is_notified_preview(client, project, manager, developer, tester, reporter, team):
    NotificationPreference.objects.create(user=tester, kind=Kind.STATUS_CHANGED, mode=Mode.INBOX)
    issue = make_issue(project, reporter, owner=developer, team=team)
    issue.watchers.add(tester, reporter, developer)
    client.force_login(reporter)
    # The issue page's panel loads it with htmx: the card alone.
    html = client.get(reverse("issue_notified", args=[issue.key]), HTTP_HX_REQUEST="true").text
    assert "Who is notified" in html and "<html" not in html
    status_block = html.split("Status change", 1)[1].split("New comment", 1)[0]
    assert "Tester" in status_block and "inbox only" in status_block
    assert "Developer" in status_block and "email now + inbox" in status_block
    assert "Reporter" not in status_block  # the viewer would be the actor
    escalation = html.split("Still breached after 2 h", 1)[1]
    assert "Manager" in escalation and "cannot be turned off" in escalation


def test_time_left_filter():
    from notifications.templatetags.notification_tags import time_left

    now = timezone.now()
    assert time_left(now + timedelta(hours=1, minutes=10, seconds=5), now) == "in 1 h 10 min"
    assert time_left(now - timedelta(minutes=25), now) == "25 min ago"
    assert time_left(now + timedelta(days=2, hours=3), now) == "in 2 d 3 h"
