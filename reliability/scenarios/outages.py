"""Outages under load: Redis down, PostgreSQL restarted."""

from __future__ import annotations

import random
import threading
import time
import uuid

import requests

from reliability.common import record
from reliability.scenarios.beats import outcomes_all
from reliability.scenarios.users import Activity, _check_writes, _load_context
from reliability.servers import Browser, free_port, wait_for
from reliability.world import World


def scenario_redis(w: World) -> None:
    name = "Redis down"
    # Django is set up only once World.boot() has configured it: import the app here.
    from django.utils import timezone

    from issues.models import IssueEvent
    from notifications.models import Notification

    box = w.smtp.box
    box.reset()
    port = free_port()
    w.procs.gunicorn(port, workers=2, threads=4)
    w.procs.worker()
    w.procs.beat()
    base = f"http://127.0.0.1:{port}"
    a = Activity(base)
    browsers = [Browser(base, p) for p in ("manager", "developer", "reporter")]
    project = _load_context(w, a)
    outage = 10 if w.quick else 30
    down_at = timezone.now()
    w.redis.kill()
    stop = time.monotonic() + outage
    cycle = ["file", "transition", "comment", "list", "open"]
    turn = 0
    while time.monotonic() < stop:  # every kind of request, in turn, by several users
        action = cycle[turn % len(cycle)]
        b = browsers[0] if action == "transition" else browsers[turn % len(browsers)]
        a.act(b, action, project.pk)
        turn += 1
    w.redis.start()
    fivexx = sum(n for k, n in a.status.items() if k.startswith("5") or k == "conn-error")
    if a.errors:
        print("  errors:", a.errors[:5])
    record(name, f"requests during {outage} s outage / 5xx",
           f"{sum(a.status.values())} / {fivexx}", "0 5xx", fivexx == 0 and not a.errors)  # fmt: skip
    writes = len(a.filed) + len(a.comments) + sum(a.moves.values())
    record(name, "writes accepted during outage (file/comment/move)",
           f"{len(a.filed)}/{len(a.comments)}/{sum(a.moves.values())}", "each > 0",
           bool(a.filed and a.comments and a.moves))  # fmt: skip

    def settled() -> bool:
        events = IssueEvent.objects.filter(created_at__gte=down_at)
        if events.filter(notified_at__isnull=True).exists():
            return False
        notes = Notification.objects.filter(event__created_at__gte=down_at)
        return notes.exists() and not notes.filter(email_status__in=["pending", "sending"]).exists()

    try:
        waited = wait_for(settled, 150, "the outbox drained and mailed", interval=0.5)
    except TimeoutError:
        waited = float("inf")
    time.sleep(2)
    notes = list(
        Notification.objects.filter(
            event__created_at__gte=down_at, email_status="sent"
        ).values_list("id", flat=True)
    )
    distinct, dupes = w.delivered(notes)
    record(name, "delivered after Redis back (s)", f"{waited:.1f}", "<= 120", waited <= 120)
    record(name, "notifications mailed / dup", f"{distinct}/{len(notes)}, {dupes} dup",
           "all, 0 dup", distinct == len(notes) and dupes == 0 and writes > 0)  # fmt: skip
    w.procs.stop_all()


def scenario_postgres(w: World) -> None:
    name = "PostgreSQL restart"
    port = free_port()
    w.procs.gunicorn(port, workers=2, threads=4)
    base = f"http://127.0.0.1:{port}"
    a = Activity(base)
    browsers = [Browser(base, p) for p in ("manager", "developer", "tester", "reporter")]
    project = _load_context(w, a)
    # Django is set up only once World.boot() has configured it: import the app here.
    from django.db import connections
    from django.utils import timezone

    since = timezone.now()
    connections.close_all()
    outcomes: list[tuple[float, int | None, bool]] = []  # (time, status, traceback shown)
    lock = threading.Lock()
    stop = threading.Event()

    def user(b: Browser) -> None:

        while not stop.is_set():
            body = f"pg {uuid.uuid4().hex}"
            t = time.monotonic()
            try:
                r = b.post(f"/issues/{random.choice(a.keys)}/comments/", {"body": body})  # nosec B311
                code, tb = r.status_code, "Traceback" in r.text
            except requests.RequestException:
                code, tb = None, False
            with lock:
                outcomes.append((t, code, tb))
                if code == 302:
                    a.comments.append(body)
            time.sleep(0.05)

    threads = [threading.Thread(target=user, args=(b,)) for b in browsers]
    for t in threads:
        t.start()
    time.sleep(3)
    down = time.monotonic()
    w.pg.stop()
    time.sleep(3 if w.quick else 10)
    w.pg.start()
    up = time.monotonic()
    first_ok = None
    deadline = up + 30
    while time.monotonic() < deadline and first_ok is None:
        with lock:
            first_ok = next((t for t, c, _ in outcomes if t >= up and c == 302), None)
        time.sleep(0.1)
    time.sleep(3)
    stop.set()
    for t in threads:
        t.join()
    window = [(c, tb) for t, c, tb in outcomes if down <= t < up]
    bad = sum(
        1
        for c, tb in outcomes_all(outcomes)
        if (c is not None and c >= 500 and c != 503) or tb or c is None
    )
    n503 = sum(1 for c, _ in window if c == 503)
    record(name, "requests in the window: 503 / other errors",
           f"{n503} of {len(window)} / {bad}", "503 only, 0 other", bad == 0 and n503 > 0)  # fmt: skip
    recovery = (first_ok - up) if first_ok else float("inf")
    record(name, "first success after restart (s)", f"{recovery:.1f}", "<= 5", recovery <= 5)
    total, bad_rows, bad_audit, _ = _check_writes(w, a, since)
    record(name, "acknowledged writes lost or doubled", f"{bad_rows + bad_audit} of {total}",
           "0", bad_rows + bad_audit == 0 and total > 0)  # fmt: skip
    w.procs.stop_all()
    del project
