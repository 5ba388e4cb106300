"""The three transports as real processes and servers: the `receive_mail` SMTP/LMTP
receiver (a subprocess on the test database), the drop folder it watches, and IMAP polling
against a real Dovecot. A message is acknowledged only once it is stored; handed over twice,
it is filed once."""

import os
import signal
import smtplib
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection

from issues.mailthread import reply_address
from issues.models import Issue
from mailin import services, tasks
from mailin.dovecot import Dovecot
from mailin.models import MailMessage, MailStatus

from .conftest import build

ROOT = Path(__file__).resolve().parents[2]


def wait_for(condition, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def receiver(tmp_path):
    """`manage.py receive_mail --port 0` on the test database; yields (port, drop folder)."""
    started = []

    def start(*extra):
        log = tmp_path / f"receiver-{len(started)}.log"
        drop = tmp_path / "mail-in"
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "CONN_MAX_AGE": "0",
            "RESOLVE_VAR_DIR": str(tmp_path / "var"),
            "CELERY_TASK_ALWAYS_EAGER": "true",
        }
        cmd = [
            sys.executable,
            "manage.py",
            "receive_mail",
            "--port",
            "0",
            "--drop-dir",
            str(drop),
            *extra,
        ]
        out = log.open("wb")
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        started.append((proc, out))
        wait_for(
            lambda: b"Receiving mail" in log.read_bytes() or proc.poll() is not None, 30, "receiver"
        )
        assert proc.poll() is None, log.read_text()
        line = next(x for x in log.read_text().splitlines() if x.startswith("Receiving mail"))
        proc.port = int(line.rsplit(":", 1)[1])
        proc.drop = drop
        proc.log = log
        return proc

    yield start
    for proc, out in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        out.close()


def _stored_ids(reply: bytes) -> list[int]:
    assert reply.startswith(b"2.0.0 Stored as "), reply
    return [int(pk) for pk in reply.removeprefix(b"2.0.0 Stored as ").split(b", ")]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_smtp_receiver_files_once_and_refuses_unknown_recipients(
    receiver, address, reporter, manager
):
    proc = receiver()
    raw = build(message_id="<smtp-1@client.example>")
    with smtplib.SMTP("127.0.0.1", proc.port, timeout=30) as smtp:
        smtp.ehlo()
        smtp.mail("reporter@example.com")
        smtp.rcpt("web-support@example.com")
        code, reply = smtp.data(raw)
        assert code == 250
        # Durable before the 250: the row is committed when the answer arrives.
        [pk] = _stored_ids(reply)
        assert MailMessage.objects.get(pk=pk).message_id == "<smtp-1@client.example>"
        # The MTA retries (it lost our 250): recognised, not stored or filed again.
        smtp.mail("reporter@example.com")
        smtp.rcpt("web-support@example.com")
        assert _stored_ids(smtp.data(raw)[1]) == [pk]
        with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
            smtp.sendmail("reporter@example.com", ["nobody@example.com"], build())
        assert info.value.recipients["nobody@example.com"][0] == 550
        # An unknown address is never remembered: added a moment later, it works at once.
        services.add_mail_address(address.project, actor=manager, address="nobody@example.com")
        smtp.mail("reporter@example.com")
        assert smtp.rcpt("nobody@example.com")[0] == 250
        smtp.rset()
        # A bounce (null return path) is stored and ignored, never answered.
        smtp.sendmail("", ["web-support@example.com"], build(subject="Undeliverable"))
    # Filing follows the 250.
    wait_for(
        lambda: not MailMessage.objects.filter(status=MailStatus.RECEIVED).exists(),
        30,
        "filing",
    )
    assert Issue.objects.count() == 1
    assert Issue.objects.get().title == "Checkout button does nothing"
    statuses = sorted(MailMessage.objects.values_list("status", flat=True))
    assert statuses == [MailStatus.FILED, MailStatus.IGNORED]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_sessions_each_message_filed_once(receiver, address, reporter, developer):
    """Eight sessions at once, each message sent twice (by two sessions): the group commit
    stores each once, the 250 names its row, and the batches after it file each once."""
    issue = services.ingest(build(subject="Replies go here"), transport="smtp")[0].issue
    to_reply = reply_address(user_id=developer.pk, issue_id=issue.pk)
    messages = []
    for n in range(40):
        if n % 4 == 0:
            messages.append(
                ("developer@example.com", to_reply,
                 build(sender="developer@example.com", to=to_reply, subject="Re: x",
                       body=f"Reply {n}", message_id=f"<c{n}@client.example>"))
            )  # fmt: skip
        else:
            messages.append(
                ("reporter@example.com", "web-support@example.com",
                 build(subject=f"Concurrent {n}", message_id=f"<c{n}@client.example>"))
            )  # fmt: skip
    proc = receiver()
    stored: dict[bytes, list[int]] = {}
    errors: list[Exception] = []
    lock = threading.Lock()

    def session(chunk):
        try:
            with smtplib.SMTP("127.0.0.1", proc.port, timeout=60) as smtp:
                smtp.ehlo()
                for sender, to, raw in chunk:
                    smtp.mail(sender)
                    smtp.rcpt(to)
                    code, reply = smtp.data(raw)
                    assert code == 250, reply
                    ids = _stored_ids(reply)
                    # Durable before the 250.
                    assert MailMessage.objects.filter(pk__in=ids).count() == len(ids)
                    with lock:
                        assert stored.setdefault(raw, ids) == ids
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    chunks = [messages[i::4] for i in range(4)]
    threads = [threading.Thread(target=session, args=(c,)) for c in chunks + chunks[::-1]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    wait_for(
        lambda: not MailMessage.objects.filter(status=MailStatus.RECEIVED).exists(),
        60,
        "filing",
    )
    assert Issue.objects.filter(title__startswith="Concurrent ").count() == 30
    assert sorted(issue.comments.values_list("body", flat=True)) == sorted(
        f"Reply {n}" for n in range(0, 40, 4)
    )
    assert MailMessage.objects.filter(message_id__startswith="<c").count() == 40


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_lmtp_receiver_and_drop_folder(receiver, address, reporter):
    proc = receiver("--lmtp")
    with smtplib.LMTP("127.0.0.1", proc.port) as lmtp:
        lmtp.sendmail("reporter@example.com", ["web-support@example.com"], build(subject="By LMTP"))
    (proc.drop / "note.eml").write_bytes(build(subject="Dropped in the folder"))
    os.utime(proc.drop / "note.eml", (time.time() - 5, time.time() - 5))
    # Moved away only once stored and processed.
    wait_for(lambda: (proc.drop / "done" / "note.eml").exists(), 30, "the drop file to be taken")
    assert not (proc.drop / "note.eml").exists()
    wait_for(lambda: Issue.objects.count() == 2, 30, "the LMTP message to be filed")
    assert set(Issue.objects.values_list("title", flat=True)) == {
        "By LMTP",
        "Dropped in the folder",
    }


@pytest.fixture
def dovecot():
    server = Dovecot().start()
    yield server
    server.stop()


@pytest.mark.imap
@pytest.mark.django_db
def test_imap_poll_files_and_flags_after_commit(dovecot, address, reporter, settings):
    settings.MAILIN_IMAP_URL = dovecot.url
    raws = [build(subject=f"From IMAP {n}") for n in range(5)]
    dovecot.append(*raws, raws[0])  # the same message twice in the mailbox
    assert dovecot.unseen() == 6
    assert tasks.poll_imap() == 6
    assert dovecot.unseen() == 0
    assert Issue.objects.count() == 5
    assert tasks.poll_imap() == 0  # nothing new: nothing happens


@pytest.mark.imap
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_pollers_at_once_file_each_message_once(dovecot, address, reporter, settings):
    settings.MAILIN_SENDER_RATE_PER_HOUR = 10_000
    dovecot.append(*[build(subject=f"Backlog {n}") for n in range(120)])
    errors = []

    def poll():
        try:
            from mailin.transports import poll_imap_mailbox

            poll_imap_mailbox(dovecot.url, batch=40)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=poll) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert Issue.objects.count() == 120
    assert MailMessage.objects.count() == 120
    assert dovecot.unseen() == 0


@pytest.mark.django_db
def test_a_crash_after_storing_loses_nothing(address, reporter):
    """Stored (and so acknowledged) but never processed: the catch-up files it, once."""
    from datetime import timedelta

    [row] = services.receive_message(build(subject="Stored then crashed"), transport="smtp")
    assert row.status == MailStatus.RECEIVED and Issue.objects.count() == 0
    assert services.process_pending_mail(older_than=timedelta(0)) == 1
    assert services.process_pending_mail(older_than=timedelta(0)) == 0
    assert Issue.objects.get().title == "Stored then crashed"
