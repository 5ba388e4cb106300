"""The real pieces: PostgreSQL, Redis as the broker, a `celery worker` subprocess and an SMTP
server (aiosmtpd) receiving the emails. Each test gets its own Celery queue, so parallel runs
(xdist, other checkouts sharing the Redis) never take each other's tasks."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import psycopg
import pytest
from aiosmtpd.controller import Controller
from django.db import connection, connections, transaction
from django.utils import timezone

from issues.services import add_comment
from notifications.models import EmailStatus, Kind, Mode, Notification, NotificationPreference
from notifications.services import sweep_sla
from tests.factories import make_issue
from workflows.issue_use_cases import update_issue
from workflows.models import CheckpointKind

from .conftest import checkpoint, due_issue

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


ACTIVITY = (
    "SELECT pid, state, wait_event_type, wait_event, left(query, 80) FROM pg_stat_activity "
    "WHERE datname = current_database()"
)


def wait_for(condition, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")


class Inbox:
    """aiosmtpd handler: records each accepted message; can refuse the next N with 421."""

    def __init__(self):
        self.messages = []
        self.refuse = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.refuse > 0:
                self.refuse -= 1
                return "421 Service not available, try again later"
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def ids(self):
        with self.lock:
            return [m["Message-ID"] for m in self.messages]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def queue():
    """A queue of our own; the test process publishes to it too."""
    from tracker.celery import app

    name = f"resolve-test-{uuid.uuid4().hex[:12]}"
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = name
    yield name
    app.conf.task_default_queue = previous


@pytest.fixture
def workers(smtp, queue, tmp_path):
    """Start real `celery worker` processes on the test database, queue and SMTP server."""
    started = []

    def start(*, pool="solo", concurrency=1, **extra_env):
        log = tmp_path / f"worker-{len(started)}.log"
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "CONN_MAX_AGE": "0",
            "CELERY_QUEUE": queue,
            "CELERY_VISIBILITY_TIMEOUT": "2",
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}",
            "BASE_URL": "https://resolve.example",
            "RESOLVE_VAR_DIR": str(tmp_path / "var"),
            **{k: str(v) for k, v in extra_env.items()},
        }
        cmd = [
            sys.executable, "-m", "celery", "-A", "tracker", "worker", "-Q", queue,
            f"--pool={pool}", f"--concurrency={concurrency}", "--loglevel=INFO",
            "--without-mingle", "--without-gossip", "--without-heartbeat",
            f"--hostname=test-{uuid.uuid4().hex[:8]}@%h",
        ]  # fmt: skip
        out = log.open("wb")
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        started.append((proc, out))
        wait_for(lambda: b" ready." in log.read_bytes() or proc.poll() is not None, 30, "worker")
        assert proc.poll() is None, log.read_text()
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


def _all_sent(expected: int):
    def check():
        rows = list(Notification.objects.values_list("email_status", flat=True))
        return len(rows) == expected and all(s == EmailStatus.SENT for s in rows)

    return check


def test_alerts_once_each_with_concurrent_sweeps_and_a_refusing_smtp(
    project, manager, developer, reporter, team, smtp, workers
):
    at_risk = due_issue(project, reporter, owner=developer, title="Checkout times out")
    checkpoint(at_risk, due_at=timezone.now())
    breached = due_issue(project, reporter, owner=developer, team=team, hours_left=0)
    checkpoint(breached, CheckpointKind.RESOLUTION_BREACH, due_at=timezone.now())
    smtp.refuse = 2  # the SMTP server answers 421 twice, then accepts
    workers(pool="prefork", concurrency=2)
    from notifications.tasks import sweep_sla as sweep_task

    sweep_task.delay()  # two sweeps at once, as from two beats
    sweep_task.delay()
    wait_for(_all_sent(3), 30, "three alerts sent")
    received = sorted((m["To"], m["Subject"].split(":")[0]) for m in smtp.messages)
    assert received == [
        ("developer@example.com", f"[Resolve] {at_risk.key} at risk"),
        ("developer@example.com", f"[Resolve] {breached.key} SLA breached"),
        ("manager@example.com", f"[Resolve] {breached.key} SLA breached"),
    ]
    assert len(set(smtp.ids())) == 3
    for message in smtp.messages:
        for part in ("plain", "html"):
            assert "https://resolve.example/issues/" in message.get_body((part,)).get_content()
    assert sorted(Notification.objects.values_list("message_id", flat=True)) == sorted(smtp.ids())
    assert Notification.objects.filter(email_attempts__gt=1).exists()  # the 421s were retried


def test_worker_killed_mid_sweep_then_every_alert_exactly_once(
    project, manager, developer, reporter, team, smtp, workers
):
    now = timezone.now()
    issues = []
    for i in range(4):  # the first batch: warnings, due earliest
        issue = due_issue(project, reporter, owner=developer, team=team)
        checkpoint(issue, due_at=now - timedelta(minutes=10 - i))
        issues.append(issue)
    for i in range(8):  # later batches: breaches, which arm the escalation (blocked below)
        issue = due_issue(project, reporter, owner=developer, team=team, hours_left=0)
        checkpoint(
            issue, CheckpointKind.RESOLUTION_BREACH, due_at=now - timedelta(minutes=5 - i * 0.1)
        )
    # Hold the escalation table: the second batch blocks mid-transaction, the first committed.
    url = _database_url().replace("postgres://", "postgresql://")
    blocker = psycopg.connect(url)
    # Activity is read outside the blocker's transaction (its view would be a frozen snapshot).
    watcher = psycopg.connect(url, autocommit=True)
    blocker.execute("LOCK TABLE notifications_slaescalation IN EXCLUSIVE MODE")
    try:
        worker = workers(SLA_SWEEP_BATCH=4)
        from notifications.tasks import sweep_sla as sweep_task

        sweep_task.delay()
        waiting = []

        def blocked_on_lock():
            rows = watcher.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend' AND wait_event_type = 'Lock' "
                "AND query LIKE '%%notifications_slaescalation%%'"
            ).fetchall()
            waiting[:] = [r[0] for r in rows]
            return bool(rows)

        wait_for(blocked_on_lock, 30, "the sweep to block in its second batch")
        assert Notification.objects.filter(kind=Kind.SLA_AT_RISK).count() == 4
        os.killpg(worker.pid, signal.SIGKILL)  # killed mid-sweep
        worker.wait()
    finally:
        blocker.rollback()
    # The dead worker's transaction rolls back once its backend notices the client is gone.
    wait_for(
        lambda: (
            not watcher.execute(
                "SELECT 1 FROM pg_stat_activity WHERE pid = ANY(%s)", [waiting]
            ).fetchall()
        ),
        30,
        lambda: (
            f"the killed sweep's transaction {waiting} to end: "
            + repr(watcher.execute(ACTIVITY).fetchall())
        ),
    )
    blocker.close()
    watcher.close()
    assert not Notification.objects.filter(kind=Kind.SLA_BREACHED).exists()

    workers(SLA_SWEEP_BATCH=4)  # restarted; the unacked sweep comes back, beat sends another
    sweep_task.delay()
    wait_for(_all_sent(4 + 8 * 2), 30, "every alert sent")
    ids = smtp.ids()
    assert len(ids) == len(set(ids)) == 20
    assert Notification.objects.filter(kind=Kind.SLA_BREACHED, recipient=manager).count() == 8


def test_outbox_through_the_worker_tells_others_not_the_actor(
    project, manager, developer, tester, reporter, smtp, workers
):
    NotificationPreference.objects.create(user=tester, kind=Kind.COMMENTED, mode=Mode.OFF)
    issue = make_issue(project, reporter, title="Cart badge stale")
    issue.watchers.add(tester, reporter, developer)
    workers()
    with transaction.atomic():  # a real commit: the outbox task is queued on commit
        update_issue(issue, actor=manager, changes={"owner": developer})
        add_comment(issue, author=developer, body="Looking at it now.")
    wait_for(_all_sent(2), 30, "two notifications sent")
    received = sorted((m["To"], m["Subject"]) for m in smtp.messages)
    assert received == [
        ("developer@example.com", f"[Resolve] {issue.key} assigned to you — Cart badge stale"),
        ("reporter@example.com", f"[Resolve] New comment on {issue.key} — Cart badge stale"),
    ]


def test_two_concurrent_sweeps_in_threads_alert_once(project, developer, reporter):
    for _ in range(40):
        checkpoint(due_issue(project, reporter, owner=developer), due_at=timezone.now())
    barrier = threading.Barrier(2)
    results = []

    def run():
        try:
            barrier.wait()
            results.append(sweep_sla(batch_size=5).flagged)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 40
    assert Notification.objects.count() == 40
