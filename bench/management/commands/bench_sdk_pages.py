"""The list and the issue page through gunicorn while Sentry SDK events stream in (PostgreSQL,
Redis): does ingestion slow the pages people use?

Steps:
1. use (and seed, if needed) the served-pages database of 100,000 issues
   (`bench_served`'s; `--database` names another), set up the SDKB project and a DSN;
2. start ONE gunicorn with the shipped `gunicorn.conf.py` and production settings, serving
   both the pages and the SDK endpoint as in production, and ONE Celery worker on its own
   queue processing the events as they arrive (solo pool, as `make run`);
3. warm up: one event for each of 500 groups (`--groups`), processed (500 issues exist);
4. for each rate (0 = no ingestion, then `--rate`s, default 50 and 200 events/s): send
   realistic envelopes (5–50 KB JSON, gzip, ~30 frames; 95 % repeats of the 500 groups)
   paced at that rate from `--clients` threads, and meanwhile time the default list and the
   issue page with 50 comments with the served bench's sequential, logged-in client
   (p50/p95); record the events accepted during the timing, their accept latency and
   statuses, and the backlog the worker had left when the timing ended;
5. wait for the worker to drain the backlog, check every event was counted, print the
   table with the load average and write var/bench/sdk_pages.json.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import statistics
import subprocess  # nosec B404 - gunicorn and celery, never with user input
import threading
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Sum

from accounts.models import User
from bench.management.commands.bench_intake import _Connection
from bench.management.commands.bench_sdk import (
    GROUPS,
    _envelope_request,
    _event,
    setup_sdk_project,
    start_sdk_worker,
)
from bench.management.commands.bench_served import Command as BenchServed
from bench.management.commands.seed_bench import BENCH_USER
from bench.processes import free_port
from bench.registry import percentile
from bench.served.client import HttpSession
from intake.models import EventGroup, SdkEvent

PAGES = ("list_default", "issue_50_comments")
#: the longest a timing of both pages may take at one rate; the events prepared cover it
SECONDS_PER_RATE = 40


class _Stream:
    """Send prepared envelopes at `rate` per second from `clients` threads until stopped."""

    def __init__(self, port: int, requests: list[bytes], rate: int, clients: int) -> None:
        self.port, self.requests, self.rate, self.clients = port, requests, rate, clients
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.statuses: dict[str, int] = {}
        self.sent = 0
        self.exhausted = False
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(clients)
        ]

    def start(self) -> None:
        self.started = time.perf_counter()
        for thread in self._threads:
            thread.start()

    def finish(self, *, wait_for_all: bool = False) -> float:
        """Stop sending (or, with wait_for_all, let every prepared event go first)."""
        if not wait_for_all:
            self.stop.set()
        for thread in self._threads:
            thread.join()
        return time.perf_counter() - self.started

    def _client(self, i: int) -> None:
        mine = self.requests[i :: self.clients]
        interval = self.clients / self.rate
        conn = _Connection(self.port)
        next_at = time.perf_counter() + i * interval / self.clients
        latencies, statuses = [], {}
        for request in mine:
            if self.stop.is_set():
                break
            pause = next_at - time.perf_counter()
            if pause > 0 and self.stop.wait(pause):
                break
            next_at += interval
            started = time.perf_counter()
            try:
                code = str(conn.exchange(request))
            except (OSError, ValueError):
                conn.close()
                conn = _Connection(self.port)
                code = "connection error"
            latencies.append(time.perf_counter() - started)
            statuses[code] = statuses.get(code, 0) + 1
        else:
            self.exhausted = True
        conn.close()
        with self._lock:
            self.latencies += latencies
            self.sent += len(latencies)
            for code, n in statuses.items():
                self.statuses[code] = self.statuses.get(code, 0) + n


class Command(BenchServed):
    help = "The list and the issue page through gunicorn while SDK events stream in."

    def add_arguments(self, parser):
        parser.add_argument("--issues", type=int, default=100_000, help="Bench issues to seed.")
        parser.add_argument(
            "--database", default="", help="Bench database name (default <name>_served_<N>)."
        )
        parser.add_argument("--requests", type=int, default=50, help="Timed requests per page.")
        parser.add_argument("--warmup", type=int, default=5, help="Untimed requests first.")
        parser.add_argument(
            "--rate",
            type=int,
            action="append",
            default=[],
            help="Events/s sent while the pages are timed (repeatable; default 50 and 200).",
        )
        parser.add_argument(
            "--clients", type=int, default=4, help="SDK client threads (at least rate / 10)."
        )
        parser.add_argument("--groups", type=int, default=GROUPS, help="Distinct errors.")
        parser.add_argument("--seed", type=int, default=17)
        parser.add_argument(
            "--output", default=str(Path(settings.VAR_DIR) / "bench" / "sdk_pages.json")
        )

    def handle(self, *args, **opts):
        if not settings.IS_POSTGRES:
            raise CommandError("bench_sdk_pages measures PostgreSQL: set DATABASE_URL=postgres://…")
        if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
            raise CommandError("bench_sdk_pages runs a Celery worker on Redis: set REDIS_URL=…")
        rates = opts["rate"] or [50, 200]
        if any(rate <= 0 for rate in rates):
            raise CommandError("--rate must be a positive number of events per second.")
        # What bench_served's helpers read: no profiling, no comparison, no replays.
        self.opts = {**opts, "profile": "", "against": "", "replays": 0}
        name = (
            opts["database"] or f"{settings.DATABASES['default']['NAME']}_served_{opts['issues']}"
        )
        self._use_database(name, fresh=False)
        self._seed(opts["issues"])
        call_command("collectstatic", interactive=False, verbosity=0)
        password = secrets.token_urlsafe(16)
        user = User.objects.get(username=BENCH_USER)
        user.set_password(password)
        user.save(update_fields=["password"])
        pages = [page for page in self._pages() if page.name in PAGES]
        key, project = setup_sdk_project()

        rng = random.Random(opts["seed"])  # noqa: S311  # nosec B311
        groups = [f"G{i}" for i in range(opts["groups"])]
        port = free_port()
        self.stdout.write("Building events …")

        def envelope(group: str, size: int) -> bytes:
            request = _envelope_request(port, project.pk, key.public_key, _event(rng, group, size))
            # The server has the production HTTPS settings; the client plays the TLS proxy.
            return request.replace(b"\r\nHost:", b"\r\nX-Forwarded-Proto: https\r\nHost:", 1)

        def envelopes(count: int) -> list[bytes]:
            plan = [
                f"N{uuid.uuid4().hex[:10]}" if rng.random() < 0.05 else rng.choice(groups)
                for _ in range(count)
            ]
            return [envelope(g, rng.randint(5_000, 50_000)) for g in plan]

        warm = [envelope(g, 5_000) for g in groups]
        streams = {rate: envelopes(rate * SECONDS_PER_RATE) for rate in rates}
        total_before = self._total(project)

        queue = f"bench-sdk-pages-{secrets.token_hex(4)}"
        server = self._start_gunicorn(port, name, queue=queue)
        worker = None
        runs: list[dict] = []
        try:
            self._wait_ready(port, server)
            http_client = HttpSession(port)
            self._login(http_client, password)
            worker = start_sdk_worker(
                {"DATABASE_URL": self._database_url(name), "CELERY_QUEUE": queue}
            )
            self.stdout.write(f"Warming up: {len(warm)} groups …")
            warm_stream = _Stream(port, warm, rate=250, clients=opts["clients"])
            warm_stream.start()
            warm_stream.finish(wait_for_all=True)
            if warm_stream.statuses != {"200": len(warm)}:
                raise CommandError(f"SDK events refused while warming up: {warm_stream.statuses}")
            self._drain(project, worker)
            for rate in [0, *rates]:
                stream = None
                if rate:
                    # Enough senders that a slow answer (~100 ms under load) does not hold the
                    # rate back: an SDK in each of many application processes.
                    senders = max(opts["clients"], rate // 10)
                    stream = _Stream(port, streams[rate], rate=rate, clients=senders)
                    stream.start()
                    time.sleep(1)  # the stream and the worker in their stride
                load = os.getloadavg()[0]
                results = {}
                for page in pages:
                    self.stdout.write(f"  {rate} events/s: {page.name} …", ending="")
                    self.stdout.flush()
                    timed = self._time(http_client, page, server)
                    results[page.name] = {"p50_ms": timed["p50_ms"], "p95_ms": timed["p95_ms"]}
                    self.stdout.write(f" p50 {timed['p50_ms']} ms")
                run: dict = {"rate": rate, "load_average": round(load, 2), "pages": results}
                if stream is not None:
                    seconds = stream.finish()
                    backlog = SdkEvent.objects.filter(
                        project=project, processed_at__isnull=True
                    ).count()
                    ordered = sorted(stream.latencies)
                    run["events"] = {
                        "senders": senders,
                        "sent": stream.sent,
                        "per_second": round(stream.sent / seconds, 1),
                        "statuses": stream.statuses,
                        "accept_p50_ms": round(statistics.median(ordered) * 1000, 1),
                        "accept_p95_ms": round(percentile(ordered, 0.95) * 1000, 1),
                        "backlog_when_timing_ended": backlog,
                        "ran_out_of_prepared_events": stream.exhausted,
                    }
                    if set(stream.statuses) != {"200"}:
                        raise CommandError(f"SDK events refused: {stream.statuses}")
                runs.append(run)
            self._drain(project, worker)
            counted = self._total(project) - total_before
            sent = len(warm) + sum(r["events"]["sent"] for r in runs if "events" in r)
        finally:
            for process in (worker, server):
                if process is None:
                    continue
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
        result = {
            "database": name,
            "issues": opts["issues"],
            "server": "one gunicorn (shipped gunicorn.conf.py) serving pages and the SDK endpoint",
            "worker": "one Celery worker (solo pool) processing as events arrive",
            "runs": runs,
            "events_sent": sent,
            "events_counted": counted,
            "load_average_at_end": round(os.getloadavg()[0], 2),
        }
        output = Path(opts["output"])
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result, indent=2) + "\n")
        self._print(runs)
        self.stdout.write(
            f"{sent} events sent, {counted} counted; load average {result['load_average_at_end']}; "
            f"written to {output}"
        )
        if counted != sent:
            raise CommandError("Not every event accepted was counted.")

    def _drain(self, project, worker: subprocess.Popen) -> None:
        deadline = time.monotonic() + 300
        while SdkEvent.objects.filter(project=project, processed_at__isnull=True).exists():
            if worker.poll() is not None:
                raise CommandError("The Celery worker exited.")
            if time.monotonic() > deadline:
                raise CommandError("The worker left events unprocessed after 5 min.")
            time.sleep(0.2)

    def _total(self, project) -> int:
        return EventGroup.objects.filter(project=project).aggregate(n=Sum("count"))["n"] or 0

    def _print(self, runs: list[dict]) -> None:
        self.stdout.write("\nPages while SDK events stream in (one gunicorn, one worker)")
        self.stdout.write(
            f"  {'events/s asked':>14} {'sent/s':>7} {'accept p50/p95 ms':>18} {'backlog':>8}  "
            + "  ".join(f"{name + ' p50/p95':>26}" for name in PAGES)
            + "  load"
        )
        for run in runs:
            events = run.get("events")
            sent = f"{events['per_second']:>7}" if events else f"{'—':>7}"
            accept = (
                f"{events['accept_p50_ms']:>8} / {events['accept_p95_ms']:<7}"
                if events
                else f"{'—':>18}"
            )
            backlog = f"{events['backlog_when_timing_ended']:>8}" if events else f"{'—':>8}"
            timed = "  ".join(
                f"{run['pages'][n]['p50_ms']:>14} / {run['pages'][n]['p95_ms']:<9}"
                for n in PAGES
                if n in run["pages"]
            )
            self.stdout.write(
                f"  {run['rate']:>14} {sent} {accept} {backlog}  {timed}  {run['load_average']}"
            )
