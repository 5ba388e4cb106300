"""Filing after the acknowledgement, in batches: a message the database refuses rolls back
alone (its savepoint) and waits in quarantine; the others of its batch are filed; the batch
kicks the notifications outbox once, and every filing's notifications still go out."""

import threading

import pytest
from django.db import connection

from accounts.models import User
from issues.mailthread import reply_address
from issues.models import EventKind, Issue, IssueEvent
from issues.services import refresh_search_vectors
from mailin import services
from mailin.models import AcceptFrom, MailMessage, MailStatus
from notifications import services as notification_services

from .conftest import build
from .test_transports import wait_for

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


def _filer(results: list, errors: list, **kwargs):
    """A filer of its own (a second receiver process, a poller, the catch-up): a thread with
    its own database connection."""

    def run():
        try:
            results.append(services.file_all_received(**kwargs))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    return threading.Thread(target=run)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_filers_on_one_backlog_file_each_message_once(address, reporter, developer, settings):
    """Three filers drain one backlog of new issues and replies at once: every message is
    filed exactly once, every reply is one comment, and the keys are unique and gap-free."""
    issues = [
        services.ingest(build(subject=f"Replies go here {n}"), transport="smtp")[0].issue
        for n in range(3)
    ]
    settings.MAILIN_SENDER_RATE_PER_HOUR = 1000
    raws = []
    for n in range(90):
        if n % 3 == 0:
            issue = issues[n % 9 // 3]
            to = reply_address(user_id=developer.pk, issue_id=issue.pk)
            raws.append(build(sender="developer@example.com", to=to, body=f"Reply {n}"))
        else:
            raws.append(build(subject=f"Backlog {n}"))
    ids = _store(*raws)
    results: list[int] = []
    errors: list[Exception] = []
    threads = [_filer(results, errors, limit=7, budget=60) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert sum(results) == 90  # each message handled by exactly one filer
    rows = MailMessage.objects.filter(pk__in=ids)
    assert [r for r in rows.values_list("reason", flat=True) if r] == []
    assert sorted(set(rows.values_list("status", flat=True))) == [
        MailStatus.COMMENTED,
        MailStatus.FILED,
    ]
    filed = rows.filter(status=MailStatus.FILED)
    assert filed.count() == 60 and filed.values("issue").distinct().count() == 60
    assert sorted(
        Issue.objects.filter(title__startswith="Backlog ").values_list("title", flat=True)
    ) == sorted(f"Backlog {n}" for n in range(90) if n % 3)
    # Unique, gap-free keys (1-3 are the issues replied to), the counter at the last one.
    assert sorted(Issue.objects.values_list("number", flat=True)) == list(range(1, 64))
    address.project.refresh_from_db()
    assert address.project.last_issue_number == 63
    for issue in issues:
        assert issue.comments.count() == 10
        assert IssueEvent.objects.filter(issue=issue, kind=EventKind.COMMENTED).count() == 10


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_second_filer_files_while_the_first_is_mid_batch(address, reporter):
    """The first filer's batch is stuck inside filing an issue (the database holds its INSERT
    until the test lets go); a second filer files the next message and commits meanwhile:
    neither the project's key counter nor a lock of the whole batch makes it wait."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION hold_title() RETURNS trigger AS $$ BEGIN"
            " IF NEW.title = 'Held' THEN PERFORM pg_advisory_xact_lock_shared(4242); END IF;"
            " RETURN NEW; END $$ LANGUAGE plpgsql;"
            "CREATE TRIGGER hold_title BEFORE INSERT ON issues_issue"
            " FOR EACH ROW EXECUTE FUNCTION hold_title();"
        )
        cursor.execute("SELECT pg_advisory_lock(4242)")
    try:
        held, free = _store(build(subject="Held"), build(subject="Not held"))
        first_results: list[int] = []
        second_results: list[int] = []
        errors: list[Exception] = []
        first = _filer(first_results, errors, limit=1, budget=60)
        first.start()
        wait_for(lambda: _waiting_on_lock(4242), 30, "the first filer to wait inside its batch")
        second = _filer(second_results, errors, limit=1, budget=60)
        second.start()
        second.join(20)
        assert not second.is_alive(), "the second filer waited for the first"
        assert errors == [] and second_results == [1]
        # Committed while the first batch is still open: the first key is the second's.
        assert MailMessage.objects.get(pk=free).status == MailStatus.FILED
        assert list(Issue.objects.values_list("title", "number")) == [("Not held", 1)]
        assert first.is_alive()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(4242)")
        first.join(30)
        with connection.cursor() as cursor:  # DDL outlives a transactional test's flush
            cursor.execute("DROP TRIGGER hold_title ON issues_issue; DROP FUNCTION hold_title();")
    assert errors == [] and first_results == [1]
    assert MailMessage.objects.get(pk=held).status == MailStatus.FILED
    assert sorted(Issue.objects.values_list("title", "number")) == [
        ("Held", 2),
        ("Not held", 1),
    ]


def _waiting_on_lock(key: int) -> int:
    """How many sessions wait for this advisory lock."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND objid = %s",
            [key],
        )
        return cursor.fetchone()[0]


@pytest.mark.postgres
def test_a_batch_files_the_same_search_document_as_the_form(address, reporter):
    """The key is allocated as the batch ends; the issue's search document is the one the
    form's filing gives (found by its key and its words)."""
    _store(build(subject="Checkout times out", body="The payment page spins forever."))
    services.file_received(budget=60)
    issue = Issue.objects.get()
    assert issue.number == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT search_vector::text FROM issues_issue WHERE id = %s", [issue.pk])
        batched = cursor.fetchone()[0]
        refresh_search_vectors([issue.pk])
        cursor.execute("SELECT search_vector::text FROM issues_issue WHERE id = %s", [issue.pk])
        assert cursor.fetchone()[0] == batched
    assert "'1':" in batched and "'web':" in batched and "'spin':" in batched


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_filers_making_the_same_contact_file_both_messages(address, manager):
    """With "anyone", two filers at once each file a message from the same stranger: both
    make the contact at the same moment; the one that loses the race files as the other's."""
    services.set_accept_from(address.project, actor=manager, accept_from=AcceptFrom.ANYONE)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION hold_contact() RETURNS trigger AS $$ BEGIN"
            " IF NEW.username LIKE 'contact-%%' THEN"
            " PERFORM pg_advisory_xact_lock_shared(4343); END IF;"
            " RETURN NEW; END $$ LANGUAGE plpgsql;"
            "CREATE TRIGGER hold_contact BEFORE INSERT ON accounts_user"
            " FOR EACH ROW EXECUTE FUNCTION hold_contact();"
        )
        cursor.execute("SELECT pg_advisory_lock(4343)")
    results: list[int] = []
    errors: list[Exception] = []
    filers = []
    try:
        _store(
            build(sender="Stranger <stranger@elsewhere.example>", subject="First"),
            build(sender="stranger@elsewhere.example", subject="Second"),
        )
        for waiting in (1, 2):  # each filer takes one message and waits inside its insert
            filers.append(_filer(results, errors, limit=1, budget=60))
            filers[-1].start()
            wait_for(lambda n=waiting: _waiting_on_lock(4343) == n, 30, "the filers to wait")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(4343)")
        for filer in filers:
            filer.join(60)
        with connection.cursor() as cursor:
            cursor.execute(
                "DROP TRIGGER hold_contact ON accounts_user; DROP FUNCTION hold_contact();"
            )
    assert errors == [] and sorted(results) == [1, 1]
    rows = MailMessage.objects.order_by("pk")
    assert [row.status for row in rows] == [MailStatus.FILED, MailStatus.FILED]
    contact = User.objects.get(email="stranger@elsewhere.example")
    assert not contact.is_active
    assert sorted(Issue.objects.values_list("title", "reporter")) == [
        ("First", contact.pk),
        ("Second", contact.pk),
    ]
