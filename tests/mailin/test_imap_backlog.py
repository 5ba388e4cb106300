"""An IMAP backlog drained by the real poller process against a real Dovecot, killed
(SIGKILL) halfway and started again: every message is filed exactly once and none is left
unseen. 200 messages (+20 the mailbox holds twice) here, to stay under a minute in CI;
`manage.py bench_mail` does the same with 10,000."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db.models import Count

from issues.models import Issue
from mailin.dovecot import Dovecot
from mailin.models import MailMessage, MailStatus

from .conftest import build
from .test_transports import _database_url, wait_for

ROOT = Path(__file__).resolve().parents[2]
BACKLOG, REPEATS = 200, 20


@pytest.fixture
def dovecot():
    server = Dovecot().start()
    yield server
    server.stop()


def _poller(url: str, tmp_path: Path, n: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CONN_MAX_AGE": "0",
        "RESOLVE_VAR_DIR": str(tmp_path / "var"),
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "MAILIN_SENDER_RATE_PER_HOUR": "1000000",
    }
    log = (tmp_path / f"poller-{n}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "manage.py", "poll_mail", "--url", url, "--batch", "20"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


@pytest.mark.imap
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_backlog_drained_exactly_once_through_a_killed_poller(dovecot, address, reporter, tmp_path):
    raws = [
        build(subject=f"Backlog {n}", message_id=f"<backlog-{n}@client.example>")
        for n in range(BACKLOG)
    ]
    dovecot.append(*raws, *raws[:REPEATS])
    assert dovecot.unseen() == BACKLOG + REPEATS

    first = _poller(dovecot.url, tmp_path, 1)
    try:
        wait_for(
            lambda: Issue.objects.count() >= BACKLOG // 2 or first.poll() is not None,
            120,
            "half the backlog to be filed",
        )
        assert first.poll() is None, (tmp_path / "poller-1.log").read_text()
        os.killpg(first.pid, signal.SIGKILL)  # mid-batch: no goodbye, no clean-up
        first.wait(10)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    interrupted_at = Issue.objects.count()
    left_unseen = dovecot.unseen()
    assert BACKLOG // 2 <= interrupted_at < BACKLOG
    assert 0 < left_unseen < BACKLOG + REPEATS

    second = _poller(dovecot.url, tmp_path, 2)
    started = time.monotonic()
    while second.poll() is None and time.monotonic() - started < 120:
        time.sleep(0.1)
    assert second.returncode == 0, (tmp_path / "poller-2.log").read_text()

    assert dovecot.unseen() == 0
    assert Issue.objects.count() == BACKLOG
    repeated_titles = Issue.objects.values("title").annotate(n=Count("id")).filter(n__gt=1).count()
    assert repeated_titles == 0
    assert set(Issue.objects.values_list("title", flat=True)) == {
        f"Backlog {n}" for n in range(BACKLOG)
    }
    assert MailMessage.objects.count() == BACKLOG
    assert set(MailMessage.objects.values_list("status", flat=True)) == {MailStatus.FILED}
