"""Real pieces for the webhook tests: an HTTP receiver process on 127.0.0.1 (a free port)
that verifies signatures with `standardwebhooks`, and `celery worker` processes on Redis
with a queue of their own, on the test database."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def wait_for(condition, timeout=30.0, what="condition", interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """Drives `python -m webhooks.receiver` (a separate process)."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self, port: int = 0, secrets: dict[str, str] | None = None) -> None:
        known = [f"--secret={path}={secret}" for path, secret in (secrets or {}).items()]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "webhooks.receiver", "--port", str(port), *known],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=(self.log_dir / "receiver.log").open("ab"),
            start_new_session=True,
        )
        line = self.proc.stdout.readline().decode()
        assert line.startswith("listening on"), line
        self.port = int(line.split()[-1])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _call(self, method: str, path: str, payload=None):
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method=method
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read())

    def secrets(self, path: str, *secrets: str) -> None:
        self._call("POST", "/_secrets", {path: list(secrets)})

    def script(self, path: str, *steps: str) -> None:
        self._call("POST", "/_script", {path: list(steps)})

    def records(self, path: str | None = None) -> list[dict]:
        got = self._call("GET", "/_records")
        return [r for r in got if path is None or r["path"] == path]


@pytest.fixture
def receiver(tmp_path):
    r = Receiver(tmp_path)
    r.start()
    yield r
    r.stop()


@pytest.fixture
def private_targets(settings):
    """The local receiver is on loopback: allowed as an on-premises install would."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def queue():
    from tracker.celery import app

    name = f"resolve-hooks-test-{uuid.uuid4().hex[:12]}"
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = name
    yield name
    app.conf.task_default_queue = previous


# Short timings for the worker: timeouts of 1 s, back-off from 0.5 s, a 2 s turn.
FAST = {
    "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
    "WEBHOOK_CONNECT_TIMEOUT": "1",
    "WEBHOOK_READ_TIMEOUT": "1",
    "WEBHOOK_BACKOFF_BASE": "0.5",
    "WEBHOOK_BACKOFF_MAX": "2",
    "WEBHOOK_TURN_SECONDS": "2",
    "WEBHOOK_CLAIM_SECONDS": "5",
}


@pytest.fixture
def workers(queue, tmp_path):
    """Start real `celery worker` processes on the test database and our queue."""
    started = []

    def start(*, pool="solo", concurrency=1, **extra_env):
        log = tmp_path / f"worker-{len(started)}.log"
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "CONN_MAX_AGE": "0",
            "CELERY_QUEUE": queue,
            "CELERY_VISIBILITY_TIMEOUT": "2",
            "BASE_URL": "https://resolve.example",
            "RESOLVE_VAR_DIR": str(tmp_path / "var"),
            **FAST,
            **{k: str(v) for k, v in extra_env.items()},
        }
        cmd = [
            sys.executable, "-m", "celery", "-A", "tracker", "worker", "-Q", queue,
            f"--pool={pool}", f"--concurrency={concurrency}", "--loglevel=INFO",
            "--without-mingle", "--without-gossip", "--without-heartbeat",
            f"--hostname=hooks-{uuid.uuid4().hex[:8]}@%h",
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
