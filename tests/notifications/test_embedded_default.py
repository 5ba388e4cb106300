"""The embedded default of `make run`: SQLite, the kombu filesystem broker, a solo-pool worker
and beat (as in Procfile.dev), email written to var/mail/. The beat-driven sweep must run there
too. Everything runs in subprocesses on a scratch var/ directory."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SEED = """
from datetime import timedelta
from django.utils import timezone
from accounts.models import User
from workflows.issue_use_cases import create_issue
from projects.models import Membership, Project
from workflows.models import SlaCheckpoint
owner = User.objects.create(username="owner", email="owner@example.com", time_zone="Europe/Berlin")
project = Project.objects.create(key="WEB", name="Web shop")
Membership.objects.create(project=project, user=owner, role="developer")
issue = create_issue(project, reporter=owner, owner=owner, title="Checkout times out")
now = timezone.now()
issue.resolution_due_at = now + timedelta(hours=1)
issue.at_risk_at = now
issue.save(update_fields=["resolution_due_at", "at_risk_at"])
SlaCheckpoint.objects.filter(issue=issue).delete()  # replace the policy's with one due now
SlaCheckpoint.objects.create(issue=issue, cycle=1, kind="warning", threshold=75, due_at=now)
"""


def test_make_run_defaults_run_the_sweep_through_beat_and_the_worker(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "EMAIL_URL", "CELERY_QUEUE"}
    }
    env |= {"DEBUG": "true", "RESOLVE_VAR_DIR": str(tmp_path), "SLA_SWEEP_INTERVAL": "1"}
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120)
    subprocess.run([*manage, "shell", "-c", SEED], cwd=ROOT, env=env, check=True, timeout=60)
    celery = [sys.executable, "-m", "celery", "-A", "tracker"]
    log = (tmp_path / "celery.log").open("wb")
    procs = [
        subprocess.Popen(
            [*celery, "worker", "--pool=solo", "--concurrency=1", "--without-mingle",
             "--without-gossip", "--without-heartbeat", "--loglevel=INFO"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        ),
        subprocess.Popen(
            [*celery, "beat", "--loglevel=INFO"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        ),
    ]  # fmt: skip
    mail_dir = tmp_path / "mail"
    try:
        deadline = time.monotonic() + 60
        found = []
        while time.monotonic() < deadline and not found:
            found = [p for p in mail_dir.glob("*") if "at risk" in p.read_text(errors="replace")]
            time.sleep(0.2)
        assert found, (tmp_path / "celery.log").read_text()[-3000:]
        text = found[0].read_text()
        assert "To: owner@example.com" in text and "Checkout times out" in text
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
