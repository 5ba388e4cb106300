"""Webhook deliveries per second and the delay from event to delivery.

A local receiver process (`webhooks.receiver`, verifying every signature), real Celery workers
on Redis, PostgreSQL. Phase 1, a burst: `--events` activity records appear at once across
`--subscriptions` projects (one subscription each, 100 issues each), the outbox fans them out
and the workers deliver them; deliveries/s is from the burst's commit to the last delivery.
Phase 2, not saturated: `--paced-rate` events a second for `--paced-seconds`; delay p50/p95.
Writes var/bench/webhooks.json. Needs DATABASE_URL=postgres://… and REDIS_URL.
"""

import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from issues.models import EventKind, Issue, IssueEvent
from notifications.services import bulk_insert
from notifications.tasks import process_outbox
from projects.models import Project
from tracker.celery import app
from webhooks.models import Delivery, DeliveryState, EventType, Subscription

ROOT = Path(__file__).resolve().parents[3]
ISSUES_PER_PROJECT = 100


def _cpu_seconds(pids: set[int]) -> dict[int, float]:
    """User + system CPU per process (Linux /proc); processes that are gone are left out."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return seconds


def _children(pid: int) -> set[int]:
    try:
        found = {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except OSError:
        return set()
    for child in list(found):
        found |= _children(child)
    return found


def _database_backends() -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return {row[0] for row in cursor.fetchall()}


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * share) - 1)]


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def add_arguments(self, parser):
        parser.add_argument("--events", type=int, default=10_000)
        parser.add_argument("--subscriptions", type=int, default=10)
        parser.add_argument("--workers", type=int, default=1, help="celery worker processes")
        parser.add_argument("--concurrency", type=int, default=2, help="prefork children each")
        parser.add_argument("--paced-rate", type=float, default=20.0, help="events/s, phase 2")
        parser.add_argument("--paced-seconds", type=float, default=15.0)
        parser.add_argument(
            "--output", default=str(Path(settings.VAR_DIR) / "bench" / "webhooks.json")
        )

    def handle(self, *args, **opts):
        if not settings.IS_POSTGRES:
            raise CommandError("bench_webhooks measures PostgreSQL: set DATABASE_URL=postgres://…")
        if not settings.CELERY_BROKER_URL.startswith("redis"):
            raise CommandError("bench_webhooks needs Redis as the broker: set REDIS_URL=redis://…")
        queue = f"bench-webhooks-{uuid.uuid4().hex[:8]}"
        receiver, port = self._start_receiver()
        workers = []
        try:
            subs, issues = self._setup(opts["subscriptions"], port)
            self._call(port, "POST", "/_secrets", {f"/s{s.pk}": [s.secret] for s in subs})
            workers = [
                self._start_worker(queue, opts["concurrency"], i) for i in range(opts["workers"])
            ]

            app.conf.task_default_queue = queue
            self._pids = {receiver.pid}
            for proc in workers:
                self._pids |= {proc.pid, *_children(proc.pid)}
            burst = self._burst(issues, subs, opts["events"], port)
            paced = self._paced(issues, subs, opts["paced_rate"], opts["paced_seconds"], port)
        finally:
            for proc in workers:
                os.killpg(proc.pid, signal.SIGTERM)
            for proc in workers:
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
            os.killpg(receiver.pid, signal.SIGKILL)
        result = {
            "burst": burst,
            "paced": paced,
            "setup": {
                "subscriptions": opts["subscriptions"],
                "events": opts["events"],
                "celery": f"{opts['workers']} worker(s) x {opts['concurrency']} prefork",
                "cpus": os.cpu_count(),
                "load_average_at_end": round(os.getloadavg()[0], 2),
            },
        }
        output = Path(opts["output"])
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result, indent=2) + "\n")
        self.stdout.write(
            f"webhooks: burst of {burst['deliveries']} deliveries to {opts['subscriptions']} "
            f"endpoints: {burst['deliveries_per_second']}/s "
            f"(delay p50 {burst['delay_s']['p50']} s, p95 {burst['delay_s']['p95']} s, "
            f"verified {burst['verified']}, duplicates {burst['duplicates']}; "
            f"{burst['cpu_ms_per_delivery']} CPU-ms each -> "
            f"{burst['projected_deliveries_per_second_on_idle_cpus']}/s on idle CPUs, load "
            f"{burst['load_average_at_start']}-{burst['load_average_at_end']}); "
            f"paced {opts['paced_rate']}/s: delay p50 {paced['delay_s']['p50']} s, "
            f"p95 {paced['delay_s']['p95']} s -> {output}"
        )

    # --- pieces ---------------------------------------------------------------------------

    def _start_receiver(self):
        proc = subprocess.Popen(  # noqa: S603  # nosec B603
            [sys.executable, "-m", "webhooks.receiver", "--port", "0"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        line = proc.stdout.readline().decode()
        if not line.startswith("listening on"):
            raise CommandError(f"the receiver did not start: {line!r}")
        return proc, int(line.split()[-1])

    def _call(self, port: int, method: str, path: str, payload=None):
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310  # nosec B310
            return json.loads(response.read())

    def _start_worker(self, queue: str, concurrency: int, n: int):
        env = {
            **os.environ,
            "CELERY_QUEUE": queue,
            "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
            "CONN_MAX_AGE": "60",
        }
        log = Path(settings.VAR_DIR) / "bench" / f"webhooks-worker-{n}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(  # noqa: S603  # nosec B603
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tracker",
                "worker",
                "-Q",
                queue,
                "--pool=prefork",
                f"--concurrency={concurrency}",
                "--loglevel=WARNING",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                f"--hostname=bench-{uuid.uuid4().hex[:6]}@%h",
            ],  # fmt: skip
            cwd=ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        time.sleep(4)  # forked and connected
        if proc.poll() is not None:
            raise CommandError(f"the worker stopped: {log.read_text()[-2000:]}")
        return proc

    def _setup(self, count: int, port: int):
        user, _ = get_user_model().objects.get_or_create(
            username="bench-webhooks", defaults={"email": "bench-webhooks@example.com"}
        )
        subs, issues = [], []
        Subscription.objects.filter(project__key__startswith="WHB").delete()
        for n in range(count):
            project, _ = Project.objects.get_or_create(
                key=f"WHB{n}", defaults={"name": f"Webhook bench {n}"}
            )
            have = list(
                Issue.objects.filter(project=project).order_by("number")[:ISSUES_PER_PROJECT]
            )
            for number in range(len(have) + 1, ISSUES_PER_PROJECT + 1):
                have.append(
                    Issue.objects.create(
                        project=project, number=number, title=f"Bench {number}", reporter=user
                    )
                )
            Project.objects.filter(pk=project.pk).update(last_issue_number=ISSUES_PER_PROJECT)
            issues.append(have)
            sub = Subscription.objects.create(
                project=project, url="", event_types=list(EventType.values), created_by=user
            )
            sub.url = f"http://127.0.0.1:{port}/s{sub.pk}"
            sub.save(update_fields=["url"])
            subs.append(sub)
        # Leftovers of an earlier run are not part of this one.
        IssueEvent.objects.filter(
            notified_at__isnull=True, issue__project__key__startswith="WHB"
        ).update(notified_at=timezone.now())
        return subs, issues

    def _events(self, issues, n: int, offset: int) -> list[IssueEvent]:
        events = []
        for i in range(n):
            project = issues[(offset + i) % len(issues)]
            issue = project[((offset + i) // len(issues)) % len(project)]
            events.append(
                IssueEvent(
                    issue=issue,
                    kind=EventKind.CHANGED,
                    field="environment",
                    old_value="",
                    new_value=f"bench {offset + i}",
                    data={},
                )
            )
        return events

    def _kick(self):
        process_outbox.delay()

    def _burst(self, issues, subs, n: int, port: int) -> dict:
        self._call(port, "POST", "/_reset")
        self._call(port, "POST", "/_secrets", {f"/s{s.pk}": [s.secret] for s in subs})
        self.stderr.write(f"Burst: {n} events across {len(subs)} endpoints …")
        with transaction.atomic():
            bulk_insert(self._events(issues, n, 0))
        started = timezone.now()
        load_before = os.getloadavg()[0]
        before = _cpu_seconds(self._pids | _database_backends())
        t0 = time.monotonic()
        self._kick()
        self._wait_all(n, since=started)
        elapsed = time.monotonic() - t0
        for proc_pid in list(self._pids):
            self._pids |= _children(proc_pid)  # pool children started or replaced meanwhile
        after = _cpu_seconds(self._pids | _database_backends())
        cpu = sum(after.values()) - sum(before.get(pid, 0.0) for pid in after)
        return self._figures(
            port,
            n,
            elapsed,
            # CPU of the workers, the receiver and (when their processes are visible here) this
            # database's PostgreSQL backends per
            # delivery, and what the machine's cores would sustain at that cost if they did
            # nothing else (the machine may be shared: see the load averages).
            cpu_ms_per_delivery=round(cpu * 1000 / n, 2),
            projected_deliveries_per_second_on_idle_cpus=round((os.cpu_count() or 1) * n / cpu, 1)
            if cpu
            else None,
            processes_measured=len(after),
            load_average_at_start=round(load_before, 2),
            load_average_at_end=round(os.getloadavg()[0], 2),
        )

    def _paced(self, issues, subs, rate: float, seconds: float, port: int) -> dict:
        self._call(port, "POST", "/_reset")
        self._call(port, "POST", "/_secrets", {f"/s{s.pk}": [s.secret] for s in subs})
        total = int(rate * seconds)
        self.stderr.write(f"Paced: {total} events at {rate}/s …")
        started = timezone.now()
        t0 = time.monotonic()
        for i in range(total):
            # One event per commit, as people and the SLA sweep write them.
            with transaction.atomic():
                bulk_insert(self._events(issues, 1, 100_000 + i))
                transaction.on_commit(self._kick)
            pause = t0 + (i + 1) / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        t1 = time.monotonic()
        self._wait_all(total, since=started)
        return self._figures(
            port, total, time.monotonic() - t0, offered=round(total / (t1 - t0), 1)
        )

    def _wait_all(self, n: int, *, since: datetime, timeout: float = 900.0) -> None:
        deadline = time.monotonic() + timeout
        done = Delivery.objects.filter(
            created_at__gte=since,
            state=DeliveryState.SUCCEEDED,
            subscription__project__key__startswith="WHB",
        )
        while time.monotonic() < deadline:
            got = done.count()
            if got >= n:
                return
            time.sleep(0.5)
        raise CommandError(f"only {done.count()} of {n} deliveries arrived in {timeout} s")

    def _figures(self, port: int, n: int, elapsed: float, **extra) -> dict:
        records = self._call(port, "GET", "/_records")
        ids = [r["id"] for r in records]
        by_id = dict(
            Delivery.objects.filter(webhook_id__in=set(ids)).values_list("webhook_id", "event_at")
        )
        delays = [
            r["received_at"] - by_id[r["id"]].timestamp() for r in records if r["id"] in by_id
        ]
        connection.close()
        return {
            "deliveries": n,
            "seconds": round(elapsed, 2),
            "deliveries_per_second": round(n / elapsed, 1),
            "delay_s": {
                "p50": round(statistics.median(delays), 3),
                "p95": round(_percentile(delays, 0.95), 3),
                "max": round(max(delays), 3),
            },
            "verified": sum(r["verified"] for r in records),
            "duplicates": len(ids) - len(set(ids)),
            **extra,
        }
