"""Real servers on loopback, each started and stopped by the driver: PostgreSQL, Redis, an
SMTP sink and mailbox, gunicorn and Celery processes, a browser-like HTTP client."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from email import message_from_bytes, policy
from pathlib import Path

import requests
from aiosmtpd.controller import Controller

from reliability.common import PASSWORD, ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout: float, what: str, interval: float = 0.1) -> float:
    """Wait until condition() is truthy; return the seconds waited (raise on timeout)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class Postgres:
    """A throwaway cluster of our own: restarting it never disturbs anybody else."""

    def __init__(self, workdir: Path):
        bindirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        pg_config = shutil.which("pg_config")
        if pg_config:
            bindirs.append(subprocess.check_output([pg_config, "--bindir"], text=True).strip())
        self.bin = next((d for d in reversed(bindirs) if Path(d, "initdb").exists()), None)
        if self.bin is None:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found")
        self.dir = workdir / "pg"
        self.dir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(workdir, "postgres")
            shutil.chown(self.dir, "postgres")
        self.port = free_port()
        subprocess.run(
            _as_postgres([f"{self.bin}/initdb", "-D", str(self.dir / "data"), "-A", "trust",
                          "-U", "postgres", "--no-sync"]),
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip

    def _ctl(self, *args: str) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            _as_postgres([f"{self.bin}/pg_ctl", "-D", str(self.dir / "data"), "-l",
                          str(self.dir / "log"), "-o", opts, "-w", *args]),
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")


class Redis:
    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(self._up, 10, "redis")

    def _up(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Mailbox:
    """aiosmtpd handler: records accepted messages; 421 the next N; 550 some recipients;
    an optional delay per message (to kill a worker mid batch)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.messages: list = []
        self.refuse_421 = 0
        self.refused = 0
        self.reject = {"bounce@example.invalid"}
        self.delay = 0.0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            if self.refuse_421 > 0:
                self.refuse_421 -= 1
                self.refused += 1
                return "421 4.3.2 Service not available, try again later"
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def ids(self) -> list[str]:
        with self.lock:
            return [str(m["Message-ID"]) for m in self.messages]

    def reset(self) -> None:
        with self.lock:
            self.messages.clear()
            self.refuse_421 = self.refused = 0
            self.delay = 0.0


class Smtp:
    def __init__(self):
        self.port = free_port()
        self.box = Mailbox()
        self.controller = None

    def start(self) -> None:

        self.controller = Controller(self.box, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


class Procs:
    """Subprocesses of the run (each in its own process group), logs under the work dir."""

    def __init__(self, workdir: Path, env: dict):
        self.workdir = workdir
        self.env = env
        self.all: list[subprocess.Popen] = []

    def spawn(
        self, name: str, cmd: list[str], ready: bytes | None = None, **env
    ) -> subprocess.Popen:
        log = self.workdir / f"{name}-{len(self.all)}.log"
        out = log.open("wb")
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env={**self.env, **{k: str(v) for k, v in env.items()}},
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        proc.log = log  # type: ignore[attr-defined]
        self.all.append(proc)
        if ready:
            wait_for(lambda: ready in log.read_bytes() or proc.poll() is not None, 60, name)
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{log.read_text()[-3000:]}")
        return proc

    def worker(self, *, pool: str = "prefork", concurrency: int = 2, **env) -> subprocess.Popen:
        return self.spawn(
            "worker",
            [sys.executable, "-m", "celery", "-A", "tracker", "worker", "-Q", self.env["CELERY_QUEUE"],
             f"--pool={pool}", f"--concurrency={concurrency}", "--loglevel=INFO",
             "--without-mingle", "--without-gossip", f"--hostname=rel-{uuid.uuid4().hex[:6]}@%h"],
            ready=b" ready.", **env,
        )  # fmt: skip

    def beat(self, **env) -> subprocess.Popen:
        schedule = self.workdir / f"beat-{uuid.uuid4().hex[:6]}"
        return self.spawn(
            "beat",
            [sys.executable, "-m", "celery", "-A", "tracker", "beat", "--loglevel=INFO",
             "-s", str(schedule)],
            ready=b"beat: Starting", **env,
        )  # fmt: skip

    def gunicorn(self, port: int, *, workers: int = 3, threads: int = 8) -> subprocess.Popen:
        proc = self.spawn(
            "gunicorn",
            [sys.executable, "-m", "gunicorn", "tracker.wsgi", "-b", f"127.0.0.1:{port}",
             "-w", str(workers), "-k", "gthread", "--threads", str(threads), "--timeout", "60"],
        )  # fmt: skip

        def up() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok
            except requests.RequestException:
                return False

        wait_for(up, 60, "gunicorn")
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            except ProcessLookupError:
                pass

    def stop_all(self) -> None:
        for proc in self.all:
            self.kill(proc)


class Browser:
    """A logged-in client (requests.Session) for one persona."""

    def __init__(self, base: str, username: str):

        self.base = base
        self.username = username
        self.s = requests.Session()
        self.s.get(f"{base}/accounts/login/", timeout=30)
        r = self.post("/accounts/login/", {"username": username, "password": PASSWORD})
        if r.status_code != 302:
            raise RuntimeError(f"login {username}: {r.status_code}")

    def get(self, path: str, **kw):
        return self.s.get(self.base + path, timeout=30, allow_redirects=False, **kw)

    def post(self, path: str, data: dict):
        token = self.s.cookies.get("csrftoken", "")
        return self.s.post(
            self.base + path, data={**data, "csrfmiddlewaretoken": token},
            headers={"X-CSRFToken": token, "Referer": self.base + path},
            timeout=30, allow_redirects=False,
        )  # fmt: skip
