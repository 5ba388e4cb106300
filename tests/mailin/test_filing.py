"""A message to a project address files an issue through the form's service; a reply to a
notification adds a comment; refusals land in quarantine with the reason."""

import pytest
from django.core import mail

from issues.mailthread import reply_address
from issues.models import Issue
from mailin import services
from mailin.models import AcceptFrom, MailMessage, MailStatus

from .conftest import build

pytestmark = pytest.mark.django_db


def test_mail_to_project_address_files_an_issue(address, reporter, manager):
    address.severity = 3
    address.save()
    [row] = services.ingest(build(), transport="smtp", envelope_from="reporter@example.com")
    assert row.status == MailStatus.FILED, row.reason
    issue = Issue.objects.get()
    assert issue.key == "WEB-1"
    assert issue.title == "Checkout button does nothing"
    assert issue.description == "Clicking Pay does nothing on Firefox."
    assert issue.reporter == reporter
    assert issue.severity == 3
    assert issue.resolution_due_at is not None  # the SLA clock started as for the form
    assert row.issue == issue


def test_reply_to_notification_adds_comment(address, reporter, developer):
    [row] = services.ingest(build(), transport="smtp", envelope_from="reporter@example.com")
    issue = row.issue
    to = reply_address(user_id=developer.pk, issue_id=issue.pk)
    raw = build(
        sender="developer@example.com",
        to=to,
        subject=f"Re: {issue.title}",
        body="Fixed in build 42.\n\nOn Mon, 1 Dec 2026 at 10:00, Resolve wrote:\n> old\n> text\n\n-- \nDev",
    )
    [reply] = services.ingest(raw, transport="smtp", envelope_from="developer@example.com")
    assert reply.status == MailStatus.COMMENTED, reply.reason
    comment = issue.comments.get()
    assert comment.author == developer
    assert comment.body == "Fixed in build 42."


def test_same_message_id_twice_is_filed_once(address, reporter):
    raw = build(message_id="<once@client.example>")
    first = services.ingest(raw, transport="smtp", envelope_from="reporter@example.com")
    second = services.ingest(raw, transport="imap")
    assert first[0].pk == second[0].pk
    assert Issue.objects.count() == 1
    assert MailMessage.objects.count() == 1


def test_non_member_is_quarantined_with_one_bounce(address):
    raw1 = build(sender="stranger@elsewhere.example")
    raw2 = build(sender="stranger@elsewhere.example", subject="again")
    [row] = services.ingest(raw1, transport="smtp", envelope_from="stranger@elsewhere.example")
    services.ingest(raw2, transport="smtp", envelope_from="stranger@elsewhere.example")
    assert row.status == MailStatus.QUARANTINED
    assert "not a member" in row.reason
    assert Issue.objects.count() == 0
    assert len(mail.outbox) == 1
    bounce = mail.outbox[0]
    assert bounce.to == ["stranger@elsewhere.example"]
    assert bounce.extra_headers["Auto-Submitted"] == "auto-replied"
    assert "not a member" in bounce.body


def test_anyone_mode_files_from_a_contact(address, manager):
    services.set_accept_from(address.project, actor=manager, accept_from=AcceptFrom.ANYONE)
    [row] = services.ingest(build(sender="Cust O'Mer <customer@shop.example>"), transport="smtp")
    assert row.status == MailStatus.FILED, row.reason
    reporter = row.issue.reporter
    assert reporter.email == "customer@shop.example"
    assert not reporter.is_active and not reporter.has_usable_password()
