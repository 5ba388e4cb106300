"""Benchmark event intake through the real HTTP endpoint under gunicorn (PostgreSQL).

Steps:
1. set up a BENCH project, its manager and an intake token (rate limit lifted); groups of
   earlier runs are kept;
2. start gunicorn on a free local port with this environment;
3. warm up: send one event for each of the 1,000 base fingerprints (files 1,000 issues);
4. measure: send N events from C client threads over keep-alive connections, 95 % repeats
   of the 1,000 fingerprints and 5 % new ones (requests prepared before the clock starts,
   sent as raw bytes: the client's CPU is taken from the server on a 2-core machine);
5. check the grouping (the counts add up), print the figures with the CPU split (gunicorn,
   its PostgreSQL backends, Redis, the client) and the load average, and write
   var/bench/intake.json.
"""

import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.core.cache import caches
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Sum

from accounts.models import User
from bench.processes import child_pids, cpu_seconds, free_port
from intake.models import EventGroup
from intake.services import create_intake_token, get_intake_settings
from issues.models import Issue
from projects.models import Membership, Project, Role

BASE_FINGERPRINTS = 1000


def _database_backends() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


def _redis_server() -> list[int]:
    """The Redis server's pid when the rate limit counts in a Redis on this machine."""

    raw = getattr(caches["intake"], "_cache", None)
    if raw is None or not hasattr(raw, "get_client"):
        return []
    try:
        info = raw.get_client("x", write=True).info("server")
    except Exception:  # noqa: BLE001 - a remote or unreachable Redis is simply not counted
        return []
    pid = int(info.get("process_id", 0))
    return [pid] if pid and Path(f"/proc/{pid}").exists() else []


def _request_bytes(port: int, secret: str, fingerprint: str) -> bytes:
    """One complete HTTP/1.1 request (keep-alive) with a generic event of this fingerprint."""
    body = json.dumps(
        {
            "title": f"Benchmark error {fingerprint}",
            "message": "Timeout after 30000 ms calling payments",
            "level": "error",
            "fingerprint": fingerprint,
            "event_id": uuid.uuid4().hex,
            "environment": "bench",
            "tags": {"component": "bench"},
        }
    ).encode()
    head = (
        "POST /api/v1/projects/BENCH/events/ HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {secret}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class _Connection:
    """A minimal keep-alive HTTP/1.1 client: send a prepared request, read one response
    (status and Content-Length-delimited body; no chunked encoding)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def exchange(self, request: bytes) -> int:
        self.sock.sendall(request)
        buf = self.buf
        while (end := buf.find(b"\r\n\r\n")) < 0:
            self._fill()
        head = bytes(buf[:end]).lower()
        status = int(head[9:12])
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            raise ValueError("response without Content-Length")
        stop = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : stop if stop > 0 else None])
        total = end + 4 + length
        while len(buf) < total:
            self._fill()
        del buf[:total]
        return status

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by the server")
        self.buf += chunk

    def close(self) -> None:
        self.sock.close()


class Command(BaseCommand):
    help = "Events per second through POST /api/v1/projects/<KEY>/events/ under gunicorn."

    def add_arguments(self, parser):
        parser.add_argument("--events", type=int, default=10_000, help="measured events")
        # 2 x 2 as in gunicorn.conf.py (best of 4x2, 3x2, 2x4, 2x3, 3x1 and 2x2 on 2 cores);
        # a few more clients than server threads keep every thread busy.
        parser.add_argument("--clients", type=int, default=6, help="concurrent client threads")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
        parser.add_argument("--threads", type=int, default=2, help="threads per worker (gthread)")
        parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
        parser.add_argument(
            "--new-share", type=float, default=0.05, help="share of new fingerprints"
        )
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--output", default=str(Path(settings.VAR_DIR) / "bench" / "intake.json")
        )

    def handle(self, *args, **opts):
        if not settings.IS_POSTGRES:
            raise CommandError("bench_intake measures PostgreSQL: set DATABASE_URL=postgres://...")
        secret, project = self._setup()
        port = free_port()
        server = self._start_gunicorn(port, opts["workers"], opts["threads"], opts["worker_class"])
        try:
            self._wait_ready(port, server)
            rng = random.Random(opts["seed"])  # noqa: S311  # nosec B311
            base = [f"bench-{i}" for i in range(BASE_FINGERPRINTS)]
            self.stderr.write(f"Warming up: {len(base)} fingerprints …")
            warm = self._run(port, secret, base, opts["clients"], label="warm-up")
            self._expect_ok(warm)
            before = self._total(project)
            groups_before = EventGroup.objects.filter(project=project).count()
            plan = [
                f"new-{uuid.uuid4().hex[:12]}"
                if rng.random() < opts["new_share"]
                else rng.choice(base)
                for _ in range(opts["events"])
            ]
            self.stderr.write(f"Measuring: {len(plan)} events, {opts['clients']} clients …")
            load_before = os.getloadavg()[0]
            web = [server.pid, *child_pids(server.pid)]
            database = _database_backends()
            redis = _redis_server()

            def cpu_now() -> tuple[float, ...]:
                return (
                    cpu_seconds(web),
                    cpu_seconds(database),
                    cpu_seconds(redis),
                    time.process_time(),
                )

            before_parts = cpu_now()
            measured = self._run(port, secret, plan, opts["clients"], label="measured")
            after_parts = cpu_now()
            load_after = os.getloadavg()[0]
            parts = [
                after - before for after, before in zip(after_parts, before_parts, strict=True)
            ]
            cpu_used = sum(parts)
            self._expect_ok(measured)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        counted = self._total(project) - before
        new_groups = len({fp for fp in plan if fp.startswith("new-")})
        latencies = sorted(measured["latencies"])
        result = {
            "events": len(plan),
            "seconds": round(measured["seconds"], 3),
            "events_per_second": round(len(plan) / measured["seconds"], 1),
            "latency_ms": {
                "p50": round(statistics.median(latencies) * 1000, 2),
                "p95": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 2),
                "p99": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
                "max": round(latencies[-1] * 1000, 2),
            },
            "statuses": measured["statuses"],
            "new_fingerprints": new_groups,
            "repeat_share": round(1 - sum(fp.startswith("new-") for fp in plan) / len(plan), 4),
            "grouping_ok": counted == len(plan)
            and EventGroup.objects.filter(project=project).count() == groups_before + new_groups,
            "issues_in_project": Issue.objects.filter(project=project).count(),
            # CPU of gunicorn, its PostgreSQL backends, the Redis server (which may serve others
            # too) and the client per event, and what two otherwise idle cores would sustain at
            # that cost (the machine may be shared).
            "cpu_ms_per_event": round(cpu_used * 1000 / len(plan), 3),
            "projected_events_per_second_on_idle_cpus": round(
                (os.cpu_count() or 1) * len(plan) / cpu_used, 1
            )
            if cpu_used
            else None,
            "cpu_ms_per_event_by_part": {
                name: round(seconds * 1000 / len(plan), 3)
                for name, seconds in zip(
                    ("gunicorn", "postgresql", "redis", "client"), parts, strict=True
                )
            },
            "load_average_at_start": round(load_before, 2),
            "load_average_at_end": round(load_after, 2),
            "warm_up_events_per_second": round(BASE_FINGERPRINTS / warm["seconds"], 1),
            "setup": {
                "server": f"gunicorn {opts['worker_class']}, {opts['workers']} workers"
                + (f" x {opts['threads']} threads" if opts["worker_class"] == "gthread" else ""),
                "clients": opts["clients"],
                "cpus": os.cpu_count(),
                "database": "PostgreSQL",
                "rate_limit_cache": settings.CACHES["intake"]["BACKEND"].rsplit(".", 1)[-1],
            },
        }
        output = Path(opts["output"])
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result, indent=2) + "\n")
        self.stdout.write(
            f"intake: {result['events_per_second']} events/s "
            f"({len(plan)} events in {result['seconds']} s; "
            f"p50 {result['latency_ms']['p50']} ms, p95 {result['latency_ms']['p95']} ms, "
            f"p99 {result['latency_ms']['p99']} ms); {new_groups} new groups; "
            f"{result['cpu_ms_per_event']} CPU-ms/event -> "
            f"{result['projected_events_per_second_on_idle_cpus']} events/s on idle CPUs "
            f"(load average {result['load_average_at_start']} at start, "
            f"{result['load_average_at_end']} at end); "
            f"CPU-ms/event by part {result['cpu_ms_per_event_by_part']}; "
            f"grouping {'ok' if result['grouping_ok'] else 'WRONG'}; written to {output}"
        )
        if not result["grouping_ok"]:
            raise CommandError("Grouping counts do not add up.")

    # --- steps ---------------------------------------------------------------------------

    def _setup(self):
        user, _ = User.objects.get_or_create(
            username="bench-intake", defaults={"display_name": "Intake benchmark"}
        )
        project, _ = Project.objects.get_or_create(
            key="BENCH", defaults={"name": "Intake benchmark"}
        )
        Membership.objects.get_or_create(
            project=project, user=user, defaults={"role": Role.MANAGER}
        )
        # Groups of previous runs stay: the warm-up then only repeats them.
        cfg = get_intake_settings(project)
        cfg.rate_limit_per_minute = 100_000_000
        cfg.threshold = 1
        cfg.save()
        _, secret = create_intake_token(project, name=f"bench {uuid.uuid4().hex[:6]}", actor=user)
        return secret, project

    def _start_gunicorn(
        self, port: int, workers: int, threads: int, worker_class: str
    ) -> subprocess.Popen:
        env = {
            **os.environ,
            "DEBUG": "false",
            "HTTPS": "false",
            "SECRET_KEY": settings.SECRET_KEY,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
            "CONN_MAX_AGE": "600",
        }
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "tracker.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            worker_class,
            "--threads",
            str(threads),
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ]
        return subprocess.Popen(cmd, env=env, cwd=settings.BASE_DIR)  # noqa: S603  # nosec B603

    def _wait_ready(self, port: int, server: subprocess.Popen) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise CommandError("gunicorn exited during start-up.")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/api/v1/openapi.json")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise CommandError("gunicorn did not answer within 30 s.")

    def _run(self, port: int, secret: str, plan: list[str], clients: int, *, label: str) -> dict:
        """Send the plan from `clients` threads, each over one keep-alive connection.

        The client is deliberately lean, since on 2 cores every CPU-ms it spends is taken from
        the server: the requests are built (JSON, event ids) before the clock starts and sent
        as raw bytes over a socket; only the status line and Content-Length are read back.
        """
        requests = [_request_bytes(port, secret, fingerprint) for fingerprint in plan]
        chunks = [requests[i::clients] for i in range(clients)]
        latencies: list[float] = []
        statuses: dict[str, int] = {}
        lock = threading.Lock()
        done = [0]

        def client(chunk: list[bytes]) -> None:
            conn = _Connection(port)
            mine: list[float] = []
            codes: dict[str, int] = {}
            for request in chunk:
                start = time.perf_counter()
                try:
                    code = str(conn.exchange(request))
                except (OSError, ValueError):
                    conn.close()
                    conn = _Connection(port)
                    code = "connection error"
                mine.append(time.perf_counter() - start)
                codes[code] = codes.get(code, 0) + 1
                if len(mine) % 50 == 0:
                    with lock:
                        done[0] += 50
            conn.close()
            with lock:
                latencies.extend(mine)
                for code, n in codes.items():
                    statuses[code] = statuses.get(code, 0) + n

        threads = [threading.Thread(target=client, args=(chunk,)) for chunk in chunks]
        started = time.perf_counter()
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            time.sleep(0.5)
            self.stderr.write(f"\r  {label}: {done[0]}/{len(plan)}", ending="")
        for t in threads:
            t.join()
        seconds = time.perf_counter() - started
        self.stderr.write(f"\r  {label}: {len(plan)}/{len(plan)} in {seconds:.1f} s")
        return {"seconds": seconds, "latencies": latencies, "statuses": statuses}

    def _expect_ok(self, run: dict) -> None:
        bad = {code: n for code, n in run["statuses"].items() if code not in ("200", "202")}
        if bad:
            raise CommandError(f"Some requests failed: {bad}")

    def _total(self, project) -> int:
        return EventGroup.objects.filter(project=project).aggregate(n=Sum("count"))["n"] or 0
