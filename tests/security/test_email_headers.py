"""Email header injection: CR/LF in issue titles, comments and display names never add a
header or a recipient to the notification emails."""

from email import message_from_bytes, policy

import pytest
from django.utils import timezone

from issues.services import add_comment
from notifications import emails, services
from notifications.models import Notification
from tests.factories import make_issue
from tests.notifications.conftest import checkpoint, due_issue
from workflows.models import CheckpointKind
from workflows.services import transition_issue

pytestmark = pytest.mark.django_db

INJECTIONS = [
    "Outage\r\nBcc: attacker@evil.example",
    "Outage\nCc: attacker@evil.example\nX-Injected: 1",
    "Outage\r\n\r\n<html>body takeover</html>",
    "Outage%0d%0aBcc: attacker@evil.example",
    "Outage\u2028To: attacker@evil.example",
    "=?utf-8?q?Outage=0D=0ABcc=3A_attacker=40evil=2Eexample?=",
]
ALLOWED_HEADERS = {
    "content-type",
    "mime-version",
    "content-transfer-encoding",
    "subject",
    "from",
    "to",
    "date",
    "message-id",
    "x-resolve-alert",
    "auto-submitted",
    "list-unsubscribe",
    "list-id",
    "precedence",
    "reply-to",
    "x-auto-response-suppress",
    "in-reply-to",
    "references",
}


def _check(message, recipient_email):
    raw = message.message().as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    names = {name.lower() for name in parsed.keys()}
    assert names <= ALLOWED_HEADERS, names - ALLOWED_HEADERS
    assert "bcc" not in names and "cc" not in names and "x-injected" not in names
    assert message.recipients() == [recipient_email]
    assert parsed["To"] == recipient_email
    for name, value in parsed.items():
        if name.lower() != "subject":
            assert "attacker" not in str(value), (name, value)
    assert "\n" not in str(parsed["Subject"])  # the attacker's text may stay, on one line
    assert "\r" not in message.subject and "\n" not in message.subject


@pytest.mark.parametrize("evil", INJECTIONS)
def test_crlf_in_titles_and_names_adds_no_header(
    evil, project, manager, developer, reporter, tester, mailoutbox, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    manager.display_name = evil
    manager.first_name = evil[:30]
    manager.save()
    issue = make_issue(project, reporter, title=evil, owner=None)
    issue.watchers.add(reporter, tester)
    transition_issue(issue, "assigned", actor=manager, owner=developer.pk)
    add_comment(issue, author=manager, body=evil, attachments=[])
    # An SLA alert about the same issue, through the sweep.
    breached = due_issue(project, reporter, owner=developer, hours_left=0, title=evil)
    checkpoint(breached, CheckpointKind.RESOLUTION_BREACH, due_at=timezone.now())
    services.process_outbox()
    services.process_outbox()
    services.sweep_sla()
    ids = list(Notification.objects.values_list("id", flat=True))
    assert len(ids) >= 3
    emails.send_notification_emails(ids)
    assert len(mailoutbox) == len(ids)
    by_user = {n.pk: n.recipient.email for n in Notification.objects.select_related("recipient")}
    assert {m.to[0] for m in mailoutbox} <= set(by_user.values())
    for message in mailoutbox:
        _check(message, message.to[0])


@pytest.mark.parametrize("evil", INJECTIONS)
def test_mail_in_subjects_and_names_add_no_header(evil, project, manager, reporter, mailoutbox):
    """A message whose subject and sender name carry CR/LF or an encoded CR/LF files an issue
    with a one-line title, and neither the notification about it nor the bounce to a stranger
    gains a header or a recipient."""
    from mailin.services import add_mail_address, ingest

    add_mail_address(project, actor=manager, address="support@example.com")
    # As received: a line break inside a header arrives folded (CRLF + space).
    folded = evil.replace("\r\n", "\n").replace("\n", "\r\n ").encode()
    for n, sender in enumerate((reporter.email, "stranger@evil.example")):
        raw = (
            b'From: "Name ' + folded.replace(b'"', b"") + b'" <' + sender.encode() + b">\r\n"
            b"To: support@example.com\r\n"
            b"Subject: " + folded + b"\r\n"
            b"Message-ID: <inj-" + str(n).encode() + b"@client.example>\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + evil.encode() + b"\r\n"
        )
        [row] = ingest(raw, transport="smtp")
    issue = row.project.issues.get()
    assert "\r" not in issue.title and "\n" not in issue.title
    issue.watchers.add(manager)
    add_comment(issue, author=reporter, body=evil)
    services.process_outbox()
    emails.send_notification_emails(list(Notification.objects.values_list("id", flat=True)))
    assert len(mailoutbox) == 2  # the bounce and the comment notification
    for message in mailoutbox:
        _check(message, message.to[0])
