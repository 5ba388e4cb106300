"""Loops and noise: Resolve's own mail is never re-ingested, automatic mail never answered,
a flood from one sender waits in quarantine, a refused person gets one note a day at most."""

import pytest
from django.core import mail as outbox

from issues.models import Issue
from mailin import services
from mailin.models import MailStatus
from mailin.selectors import quarantine_of
from notifications.emails import message_id_for

from .conftest import build

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Autoreply": "yes"},
        {"X-Autorespond": "Out of office"},
        {"Precedence": "auto_reply"},
        {"Precedence": "list"},
        {"Auto-Submitted": "auto-generated"},
        {"Return-Path": "<>"},
    ],
)
def test_automatic_mail_is_ignored(address, reporter, headers):
    [row] = services.ingest(build(headers=headers), transport="imap")
    assert row.status == MailStatus.IGNORED, row.reason
    assert Issue.objects.count() == 0 and outbox.outbox == []


def test_auto_submitted_no_is_a_person(address, reporter):
    [row] = services.ingest(build(headers={"Auto-Submitted": "no"}), transport="imap")
    assert row.status == MailStatus.FILED


def test_resolves_own_mail_is_never_filed(address, reporter, settings):
    own = build(sender=settings.DEFAULT_FROM_EMAIL, message_id=message_id_for("notification", 7))
    [row] = services.ingest(own, transport="imap")
    assert row.status == MailStatus.IGNORED and "Resolve itself" in row.reason
    # Forwarded by a list server that rewrote From: the alert header still gives it away.
    relayed = build(headers={"X-Resolve-Alert": "commented; notification=9"})
    [row] = services.ingest(relayed, transport="imap")
    assert row.status == MailStatus.IGNORED


def test_stranger_floods_get_one_bounce_and_are_rate_limited(address, settings):
    settings.MAILIN_SENDER_RATE_PER_HOUR = 3
    rows = [
        services.ingest(build(sender="bot@spam.example", subject=f"Buy {n}"), transport="smtp")[0]
        for n in range(6)
    ]
    assert [r.status for r in rows] == [MailStatus.QUARANTINED] * 6
    assert "Rate limit" in rows[-1].reason and "not a member" in rows[0].reason
    assert len(outbox.outbox) == 1  # one polite note, however many messages


def test_bounce_is_never_sent_to_an_automatic_sender(address):
    services.ingest(
        build(sender="noreply@vendor.example", headers={"Auto-Submitted": "auto-replied"}),
        transport="smtp",
    )
    services.ingest(build(sender="stranger@x.example"), transport="smtp", envelope_from="")
    assert outbox.outbox == []


def test_member_rate_limit_quarantines_without_filing(address, reporter, settings):
    settings.MAILIN_SENDER_RATE_PER_HOUR = 2
    for n in range(4):
        services.ingest(build(subject=f"Report {n}"), transport="smtp")
    assert Issue.objects.count() == 2
    assert quarantine_of(address.project).count() == 2


def test_archived_project_quarantines(address, reporter):
    from django.utils import timezone

    project = address.project
    project.archived_at = timezone.now()
    project.save()
    [row] = services.ingest(build(), transport="smtp")
    assert row.status == MailStatus.QUARANTINED and "archived" in row.reason
    assert Issue.objects.count() == 0
