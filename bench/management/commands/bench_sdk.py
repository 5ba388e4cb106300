"""Benchmark errors from Sentry SDKs through gunicorn (production settings, PostgreSQL).

Steps:
1. set up the SDKB project, its manager and a DSN (rate limit lifted, threshold 1); earlier
   runs' groups are kept, their unprocessed events processed first;
2. build the events before the clock starts: realistic SDK envelopes of 5–50 KB (about 30
   frames with context lines and local variables, breadcrumbs, request, tags), gzip
   compressed, 95 % repeats of 500 groups and 5 % new groups;
3. start gunicorn on a free port; warm up with one event per group and process them (the
   500 issues exist);
4. accept: send N envelopes from C client threads over keep-alive connections (no worker
   running, so the figure is the accept path alone): events/s, latency p50/p95/p99;
5. process: start ONE Celery worker (solo pool, as `make run`) and time it draining the
   backlog: events/s fully processed (grouped, counted, issue updated);
6. delay: with the worker idle, send single events of existing groups and time until the
   group's count (what the issue page and list show) includes each;
7. print the figures with the load average (the machine may be shared) and write
   var/bench/sdk.json.
"""

import gzip
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.db.models import Sum

from accounts.models import User
from bench.processes import child_pids, cpu_seconds, free_port
from intake.models import DsnKey, EventGroup, SdkEvent
from intake.sdk import create_dsn_key, process_sdk_events
from intake.services import get_intake_settings
from intake.tasks import process_sdk_events_task
from projects.models import Membership, Project, Role

from .bench_intake import Command as BenchIntake
from .bench_intake import _Connection, _database_backends

GROUPS = 500
WORDS = "order cart payment invoice user session token retry queue item price stock".split()


def _frames(rng: random.Random, group: str, count: int) -> list[dict]:
    """About 30 frames, library ones first, the group's own in-app frames last."""
    frames = []
    for i in range(count):
        # The group's 6 in-app frames are the same in each of its events (the grouping key);
        # the library frames above them vary in number, as real stacks do.
        step = i - (count - 6)
        in_app = step >= 0
        module = f"shop.{group.lower()}.step{step}" if in_app else f"framework.core.layer{i}"
        frame: dict = {
            "filename": module.replace(".", "/") + ".py",
            "module": module,
            "function": f"handle_{group.lower()}_{step}" if in_app else f"dispatch_{i}",
            "lineno": 10 + (step if in_app else i),
            "in_app": in_app,
        }
        if in_app:
            code = [
                f"    {rng.choice(WORDS)}_{j} = {rng.choice(WORDS)}(request, {j})" for j in range(5)
            ]
            frame["abs_path"] = "/srv/app/" + frame["filename"]
            frame["context_line"] = f"    return {module.rsplit('.', 1)[-1]}(payload)"
            frame["pre_context"], frame["post_context"] = code, code[:2]
            frame["vars"] = {
                "payload": {"id": rng.randint(1, 10**6), "items": [1, 2, 3]},
                "request": "<WSGIRequest: POST '/checkout/'>",
                "retries": rng.randint(0, 5),
            }
        frames.append(frame)
    return frames


def _event(rng: random.Random, group: str, target_bytes: int) -> dict:
    event: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "timestamp": time.time(),
        "platform": "python",
        "level": "error",
        "release": "shop@2.4.1",
        "environment": "production",
        "server_name": "web-3",
        "sdk": {"name": "sentry.python", "version": "2.19.0"},
        "tags": {"component": "checkout", "region": rng.choice(["eu", "us"])},
        "user": {"id": str(rng.randint(1, 10**5)), "ip_address": "203.0.113.7"},
        "request": {
            "url": "https://shop.example.com/checkout/",
            "method": "POST",
            "headers": {"User-Agent": "Mozilla/5.0", "Cookie": "sessionid=abc"},
        },
        "exception": {
            "values": [
                {
                    "type": f"CheckoutError{group}",
                    "value": f"order {rng.randint(1, 10**6)} could not be paid",
                    "module": "shop.errors",
                    "stacktrace": {"frames": _frames(rng, group, rng.randint(27, 33))},
                }
            ]
        },
    }
    crumbs: list[dict] = []
    event["breadcrumbs"] = {"values": crumbs}
    size = len(json.dumps(event))
    while size < target_bytes:
        crumb = {
            "timestamp": time.time(),
            "category": "query",
            "message": "Loaded orders for " + " ".join(rng.choice(WORDS) for _ in range(14)),
            "level": "info",
        }
        crumbs.append(crumb)
        size += len(json.dumps(crumb)) + 2
    return event


def _envelope_request(port: int, project_id: int, public_key: str, event: dict) -> bytes:
    payload = json.dumps(event).encode()
    body = gzip.compress(
        b"\n".join(
            [
                json.dumps(
                    {"event_id": event["event_id"], "sent_at": "2026-12-03T12:00:00Z"}
                ).encode(),
                json.dumps({"type": "event", "length": len(payload)}).encode(),
                payload,
            ]
        )
        + b"\n",
        compresslevel=6,
    )
    head = (
        f"POST /api/{project_id}/envelope/ HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"X-Sentry-Auth: Sentry sentry_version=7, sentry_key={public_key}, "
        "sentry_client=sentry.python/2.19.0\r\n"
        "Content-Type: application/x-sentry-envelope\r\n"
        "Content-Encoding: gzip\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _percentiles(values: list[float]) -> dict:
    ordered = sorted(values)
    if not ordered:
        return {}
    return {
        "p50": round(statistics.median(ordered) * 1000, 2),
        "p95": round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 2),
        "p99": round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 2),
        "max": round(ordered[-1] * 1000, 2),
    }


def setup_sdk_project() -> tuple[DsnKey, Project]:
    """The SDKB project, its manager and a fresh DSN (rate limit lifted, threshold 1); a
    previous run's unprocessed events are processed first."""
    user, _ = User.objects.get_or_create(
        username="bench-sdk", defaults={"display_name": "SDK benchmark"}
    )
    project, _ = Project.objects.get_or_create(key="SDKB", defaults={"name": "SDK benchmark"})
    Membership.objects.get_or_create(project=project, user=user, defaults={"role": Role.MANAGER})
    cfg = get_intake_settings(project)
    cfg.rate_limit_per_minute = 100_000_000
    cfg.threshold = 1
    cfg.save()
    while process_sdk_events(batch_size=1000):  # a previous run's leftovers
        pass
    key = create_dsn_key(project, name=f"bench {uuid.uuid4().hex[:6]}", actor=user)
    return key, project


def start_sdk_worker(extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """ONE Celery worker (solo pool, as `make run`), then one more processing task to start
    the drain even if the ones queued while accepting were consumed elsewhere."""
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": settings.SECRET_KEY, **(extra_env or {})}
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "tracker",
        "worker",
        "--pool=solo",
        "--concurrency=1",
        "--loglevel=WARNING",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    queue = (extra_env or {}).get("CELERY_QUEUE") or settings.CELERY_TASK_DEFAULT_QUEUE
    cmd += ["--queues", queue]
    worker = subprocess.Popen(cmd, env=env, cwd=settings.BASE_DIR)  # noqa: S603  # nosec B603
    process_sdk_events_task.apply_async(queue=queue)
    return worker


class Command(BenchIntake):
    help = "Sentry SDK events/s through /api/<project>/envelope/ under gunicorn, and processing."

    def add_arguments(self, parser):
        parser.add_argument("--events", type=int, default=5000, help="measured events")
        parser.add_argument("--clients", type=int, default=6, help="concurrent client threads")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
        parser.add_argument("--threads", type=int, default=2, help="threads per worker (gthread)")
        parser.add_argument("--new-share", type=float, default=0.05, help="share of new groups")
        parser.add_argument("--delay-samples", type=int, default=20)
        parser.add_argument("--seed", type=int, default=21)
        parser.add_argument("--output", default=str(Path(settings.VAR_DIR) / "bench" / "sdk.json"))

    def handle(self, *args, **opts):
        if not settings.IS_POSTGRES:
            raise CommandError("bench_sdk measures PostgreSQL: set DATABASE_URL=postgres://...")
        if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
            raise CommandError("bench_sdk runs a Celery worker on Redis: set REDIS_URL=redis://...")
        key, project = setup_sdk_project()
        rng = random.Random(opts["seed"])  # noqa: S311  # nosec B311
        groups = [f"G{i}" for i in range(GROUPS)]
        self.stderr.write("Building events …")
        port = int(os.environ.get("BENCH_PORT") or 0) or free_port()  # a port given, or a free one

        def request_for(group: str) -> tuple[bytes, int]:
            event = _event(rng, group, rng.randint(5_000, 50_000))
            return _envelope_request(port, project.pk, key.public_key, event), len(
                json.dumps(event)
            )

        warm = [request_for(g)[0] for g in groups]
        plan = [
            f"N{uuid.uuid4().hex[:10]}" if rng.random() < opts["new_share"] else rng.choice(groups)
            for _ in range(opts["events"])
        ]
        built = [request_for(g) for g in plan]
        measured_requests = [r for r, _ in built]
        sizes = [s for _, s in built]
        compressed = [len(r) for r in measured_requests]
        delay_requests = [request_for(rng.choice(groups))[0] for _ in range(opts["delay_samples"])]

        server = self._start_gunicorn(port, opts["workers"], opts["threads"], "gthread")
        worker = None
        try:
            self._wait_ready(port, server)
            self.stderr.write(f"Warming up: {len(warm)} groups …")
            self._expect_ok(self._send(port, warm, opts["clients"], label="warm-up"))
            while process_sdk_events(batch_size=1000):
                pass
            before_total = self._total(project)
            groups_before = EventGroup.objects.filter(project=project).count()

            self.stderr.write(f"Accepting: {len(plan)} events, {opts['clients']} clients …")
            web = [server.pid, *child_pids(server.pid)]
            database = _database_backends()
            load_before = os.getloadavg()[0]
            cpu_before = cpu_seconds(web), cpu_seconds(database)
            accepted = self._send(port, measured_requests, opts["clients"], label="accept")
            cpu_after = cpu_seconds(web), cpu_seconds(database)
            self._expect_ok(accepted)
            pending = SdkEvent.objects.filter(project=project, processed_at__isnull=True).count()

            self.stderr.write(f"Processing {pending} events with one Celery worker …")
            worker = start_sdk_worker()
            process_started = time.perf_counter()
            first_done_at = None
            while True:
                left = SdkEvent.objects.filter(project=project, processed_at__isnull=True).count()
                if first_done_at is None and left < pending:
                    first_done_at = time.perf_counter()
                if left == 0:
                    break
                if worker.poll() is not None:
                    raise CommandError("The Celery worker exited.")
                if time.perf_counter() - process_started > 900:
                    raise CommandError(f"The worker left {left} events unprocessed after 15 min.")
                time.sleep(0.1)
            processed_seconds = time.perf_counter() - (first_done_at or process_started)
            worker_cpu_ms = cpu_seconds([worker.pid]) * 1000 / len(plan)
            load_after = os.getloadavg()[0]
            counted = self._total(project) - before_total
            new_groups = len({g for g in plan if g.startswith("N")})
            grouping_ok = (
                counted == len(plan)
                and EventGroup.objects.filter(project=project).count() == groups_before + new_groups
            )

            self.stderr.write(f"Delay until the count shows: {len(delay_requests)} events …")
            delays = self._delays(port, delay_requests, project)
        finally:
            for proc in (worker, server):
                if proc is None:
                    continue
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()

        seconds = accepted["seconds"]
        cpu_used = sum(after - b for after, b in zip(cpu_after, cpu_before, strict=True))
        result = {
            "events": len(plan),
            "accept": {
                "seconds": round(seconds, 3),
                "events_per_second": round(len(plan) / seconds, 1),
                "latency_ms": _percentiles(accepted["latencies"]),
                "statuses": accepted["statuses"],
                "server_cpu_ms_per_event": round(cpu_used * 1000 / len(plan), 3),
                "cpu_ms_per_event_by_part": {
                    "gunicorn": round((cpu_after[0] - cpu_before[0]) * 1000 / len(plan), 3),
                    "postgresql": round((cpu_after[1] - cpu_before[1]) * 1000 / len(plan), 3),
                },
                "projected_events_per_second_on_idle_cpus": round(
                    (os.cpu_count() or 1) * len(plan) / cpu_used, 1
                )
                if cpu_used
                else None,
            },
            "process": {
                "by": "one Celery worker (--pool=solo), draining the accepted backlog",
                "seconds": round(processed_seconds, 3),
                "events_per_second": round(len(plan) / processed_seconds, 1),
                "grouping_ok": grouping_ok,
                # Includes the worker's start-up (imports), spread over the events.
                "worker_cpu_ms_per_event": round(worker_cpu_ms, 3),
            },
            "delay_until_counted_ms": _percentiles(delays),
            "event_json_bytes": {
                "min": min(sizes),
                "median": int(statistics.median(sizes)),
                "max": max(sizes),
            },
            "gzip_body_bytes_median": int(statistics.median(compressed)),
            "groups": GROUPS,
            "new_groups": new_groups,
            "repeat_share": round(1 - sum(g.startswith("N") for g in plan) / len(plan), 4),
            "load_average_at_start": round(load_before, 2),
            "load_average_at_end": round(load_after, 2),
            "setup": {
                "server": f"gunicorn gthread, {opts['workers']} workers x {opts['threads']} threads",
                "clients": opts["clients"],
                "cpus": os.cpu_count(),
                "database": "PostgreSQL",
            },
        }
        output = Path(opts["output"])
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result, indent=2) + "\n")
        a, p, d = result["accept"], result["process"], result["delay_until_counted_ms"]
        self.stdout.write(
            f"sdk: accepted {a['events_per_second']} events/s (p50 {a['latency_ms']['p50']} ms, "
            f"p95 {a['latency_ms']['p95']} ms, {a['server_cpu_ms_per_event']} server CPU-ms/event); "
            f"processed {p['events_per_second']} events/s by one Celery worker; "
            f"delay until counted p50 {d.get('p50')} ms, max {d.get('max')} ms; "
            f"events {result['event_json_bytes']} B JSON, gzip median "
            f"{result['gzip_body_bytes_median']} B; load average {result['load_average_at_start']}"
            f" -> {result['load_average_at_end']}; grouping {'ok' if grouping_ok else 'WRONG'}; "
            f"written to {output}"
        )
        if not grouping_ok:
            raise CommandError("Grouping counts do not add up.")

    # --- steps ---------------------------------------------------------------------------

    def _send(self, port: int, requests: list[bytes], clients: int, *, label: str) -> dict:
        chunks = [requests[i::clients] for i in range(clients)]
        latencies: list[float] = []
        statuses: dict[str, int] = {}
        lock = threading.Lock()

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
            conn.close()
            with lock:
                latencies.extend(mine)
                for code, n in codes.items():
                    statuses[code] = statuses.get(code, 0) + n

        threads = [threading.Thread(target=client, args=(chunk,)) for chunk in chunks]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - started
        self.stderr.write(f"  {label}: {len(requests)} in {seconds:.1f} s")
        return {"seconds": seconds, "latencies": latencies, "statuses": statuses}

    def _delays(self, port: int, requests: list[bytes], project: Project) -> list[float]:
        """Send one event at a time (worker idle) and time until its group's count shows it."""
        delays = []
        conn = _Connection(port)
        try:
            for request in requests:
                time.sleep(0.3)  # idle between samples, as a quiet application
                total = self._total(project)
                start = time.perf_counter()
                if conn.exchange(request) != 200:
                    raise CommandError("A delay sample was refused.")
                while self._total(project) == total:
                    if time.perf_counter() - start > 60:
                        raise CommandError("An event was not counted within 60 s.")
                    time.sleep(0.005)
                delays.append(time.perf_counter() - start)
        finally:
            conn.close()
        return delays

    def _total(self, project) -> int:
        return EventGroup.objects.filter(project=project).aggregate(n=Sum("count"))["n"] or 0
