"""Every notification about an issue names the issue's thread and carries a reply address; a
reply sent to it (as a mail client would) becomes a comment by the person who got it."""

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from issues.mailthread import issue_thread_id, read_reply_token, reply_address
from issues.services import add_comment, watch_issue
from mailin import services
from mailin.models import MailStatus
from tests.factories import make_issue

pytestmark = pytest.mark.django_db


def _reply_to(notification, *, sender, text, html=None) -> bytes:
    """What Thunderbird sends when the person clicks Reply."""
    sent = message_from_bytes(notification.message().as_bytes(), policy=policy.default)
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = sent["Reply-To"]
    reply["Subject"] = "Re: " + str(sent["Subject"])
    reply["Message-ID"] = "<reply-1@client.example>"
    reply["In-Reply-To"] = sent["Message-ID"]
    reply["References"] = f"{sent['References']} {sent['Message-ID']}"
    quoted = "\n".join("> " + line for line in notification.body.splitlines())
    reply.set_content(f"{text}\n\nOn Thu, 3 Dec 2026 at 10:00, Resolve wrote:\n{quoted}\n")
    if html:
        reply.add_alternative(html, subtype="html")
    return reply.as_bytes()


def _comment_email(project, reporter, developer, eager_celery, mailoutbox, capture):
    issue = make_issue(project, reporter, title="Cart badge stale")
    watch_issue(issue, user=developer)
    with capture(execute=True):
        add_comment(issue, author=developer, body="Can you attach a HAR file?")
    [notification] = [m for m in mailoutbox if m.to == [reporter.email]]
    return issue, notification


def test_notification_threads_and_reply_becomes_comment(
    project, reporter, developer, eager_celery, mailoutbox, django_capture_on_commit_callbacks
):
    issue, notification = _comment_email(
        project, reporter, developer, eager_celery, mailoutbox, django_capture_on_commit_callbacks
    )
    headers = notification.extra_headers
    assert headers["In-Reply-To"] == headers["References"] == issue_thread_id(issue.pk)
    assert headers["Reply-To"] == reply_address(user_id=reporter.pk, issue_id=issue.pk)
    assert headers["Reply-To"].startswith("reply+")
    assert headers["Auto-Submitted"] == "auto-generated"

    raw = _reply_to(notification, sender=reporter.email, text="Attached, see below.")
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        [row] = services.ingest(raw, transport="smtp", envelope_from=reporter.email)
    assert row.status == MailStatus.COMMENTED, row.reason
    comment = issue.comments.order_by("pk").last()
    assert (comment.author, comment.body) == (reporter, "Attached, see below.")
    # The developer is told of the new comment, by a message in the same thread.
    [told] = [m for m in mailoutbox if m.to == [developer.email]]
    assert told.extra_headers["References"] == issue_thread_id(issue.pk)


def test_reply_from_another_address_is_quarantined(
    project, reporter, developer, eager_celery, mailoutbox, django_capture_on_commit_callbacks
):
    issue, notification = _comment_email(
        project, reporter, developer, eager_celery, mailoutbox, django_capture_on_commit_callbacks
    )
    raw = _reply_to(notification, sender="mallory@evil.example", text="Close this please")
    [row] = services.ingest(raw, transport="smtp", envelope_from="mallory@evil.example")
    assert row.status == MailStatus.QUARANTINED
    assert "belongs to another person" in row.reason
    assert issue.comments.count() == 1


def test_reply_after_losing_access_is_refused(
    project, reporter, developer, eager_celery, mailoutbox, django_capture_on_commit_callbacks
):
    issue, notification = _comment_email(
        project, reporter, developer, eager_celery, mailoutbox, django_capture_on_commit_callbacks
    )
    reporter.memberships.all().delete()
    raw = _reply_to(notification, sender=reporter.email, text="Still broken")
    [row] = services.ingest(raw, transport="smtp", envelope_from=reporter.email)
    assert row.status == MailStatus.QUARANTINED
    assert "can no longer see this issue" in row.reason
    assert issue.comments.count() == 1


def test_html_only_reply_is_converted_and_sanitised(
    project, reporter, developer, eager_celery, mailoutbox, django_capture_on_commit_callbacks
):
    issue, notification = _comment_email(
        project, reporter, developer, eager_celery, mailoutbox, django_capture_on_commit_callbacks
    )
    sent = message_from_bytes(notification.message().as_bytes(), policy=policy.default)
    reply = EmailMessage()
    reply["From"] = reporter.email
    reply["To"] = sent["Reply-To"]
    reply["Subject"] = "Re: x"
    reply.set_content(
        "<p>It is <b>still</b> slow <script>alert(1)</script>"
        '<a href="javascript:alert(2)">here</a></p>',
        subtype="html",
    )
    [row] = services.ingest(reply.as_bytes(), transport="imap")
    assert row.status == MailStatus.COMMENTED, row.reason
    comment = issue.comments.order_by("pk").last()
    assert "**still**" in comment.body
    assert "<script" not in comment.body_html
    # The javascript: link stays inert text at most, never a link.
    assert 'href="javascript:' not in comment.body_html and "<a " not in comment.body_html
    assert "<strong>still</strong>" in comment.body_html


def test_tampered_tokens_do_not_read():
    token = reply_address(user_id=5, issue_id=7).split("+", 1)[1].split("@")[0]
    assert read_reply_token(token) == (7, 5)
    assert read_reply_token(token.upper()) == (7, 5)  # mail systems may change case
    forged = token.replace("7.5.", "7.6.", 1)
    assert read_reply_token(forged) is None
    assert read_reply_token("7.5." + "a" * 32) is None
