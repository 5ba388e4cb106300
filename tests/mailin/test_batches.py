"""Filing after the acknowledgement, in batches: a message the database refuses rolls back
alone (its savepoint) and waits in quarantine; the others of its batch are filed; the batch
kicks the notifications outbox once, and every filing's notifications still go out."""

import pytest
from django.db import connection

from issues.mailthread import reply_address
from issues.models import Issue, IssueEvent
from mailin import services
from mailin.models import MailMessage, MailStatus
from notifications import services as notification_services

from .conftest import build

pytestmark = pytest.mark.django_db


def _store(*raws: bytes) -> list[int]:
    received = [
        services.read_received(raw, transport="smtp", envelope_from=None, recipients=None)
        for raw in raws
    ]
    return [pk for pks in services.store_received(received) for pk in pks]


@pytest.mark.postgres
def test_a_message_the_database_refuses_rolls_back_alone(address, reporter):
    with connection.cursor() as cursor:  # the database refuses one title, after the key bump
        cursor.execute(
            "CREATE FUNCTION refuse_title() RETURNS trigger AS $$ BEGIN"
            " IF NEW.title = 'Refused by the database' THEN RAISE EXCEPTION 'refused'; END IF;"
            " RETURN NEW; END $$ LANGUAGE plpgsql;"
            "CREATE TRIGGER refuse_title BEFORE INSERT ON issues_issue"
            " FOR EACH ROW EXECUTE FUNCTION refuse_title();"
        )
    first, bad, last = _store(
        build(subject="First"), build(subject="Refused by the database"), build(subject="Last")
    )
    assert MailMessage.objects.filter(status=MailStatus.RECEIVED).count() == 3
    assert services.file_received(budget=60) == 3
    assert services.file_received(budget=60) == 0
    # Gap-free keys: the refused message's number was rolled back with it.
    assert sorted(Issue.objects.values_list("title", "number")) == [("First", 1), ("Last", 2)]
    refused = MailMessage.objects.get(pk=bad)
    assert refused.status == MailStatus.QUARANTINED and refused.issue is None
    assert "Could not be processed" in refused.reason
    assert {MailMessage.objects.get(pk=pk).status for pk in (first, last)} == {MailStatus.FILED}


def test_a_batch_kicks_the_outbox_once(
    address, reporter, developer, eager_celery, django_capture_on_commit_callbacks
):
    issue = services.ingest(build(subject="Replies go here"), transport="smtp")[0].issue
    to = reply_address(user_id=developer.pk, issue_id=issue.pk)
    _store(
        *[build(subject=f"New {n}") for n in range(4)],
        *[build(sender="developer@example.com", to=to, body=f"Reply {n}") for n in range(3)],
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert services.file_received(budget=60) == 7
    kicks = [cb for cb in callbacks if cb is notification_services._publish_outbox]
    assert len(kicks) == 1
    assert Issue.objects.count() == 5 and issue.comments.count() == 3
    # The one kick processed every event of the batch (notifications fanned out).
    assert not IssueEvent.objects.filter(notified_at=None).exists()


def test_a_stranger_in_a_batch_is_quarantined_with_one_bounce(address, reporter, mailoutbox):
    _store(
        build(subject="From a member"),
        build(sender="stranger@elsewhere.example", subject="Hello"),
        build(sender="stranger@elsewhere.example", subject="Hello again"),
    )
    assert services.file_received(budget=60) == 3
    assert Issue.objects.get().title == "From a member"
    assert [r.status for r in MailMessage.objects.order_by("pk")] == [
        MailStatus.FILED,
        MailStatus.QUARANTINED,
        MailStatus.QUARANTINED,
    ]
    assert [m.to for m in mailoutbox] == [["stranger@elsewhere.example"]]


def test_the_same_message_stored_twice_is_one_row(address, reporter):
    raw = build(message_id="<twice@client.example>")
    [a] = _store(raw)
    [b] = _store(raw)
    assert a == b and MailMessage.objects.count() == 1
    services.file_all_received()
    assert Issue.objects.count() == 1
