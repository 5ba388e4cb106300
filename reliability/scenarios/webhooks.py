"""Webhooks: a receiver that fails, recovers and is slow; each event delivered once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from reliability.common import ROOT, record
from reliability.servers import wait_for
from reliability.world import World


class Receiver:
    """`webhooks.receiver` (verifies every signature with standardwebhooks) on a free port."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self, port: int = 0, secrets: dict[str, str] | None = None) -> None:
        known = [f"--secret={path}={secret}" for path, secret in (secrets or {}).items()]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "webhooks.receiver", "--port", str(port), *known],
            cwd=ROOT, stdout=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        line = self.proc.stdout.readline().decode() if self.proc.stdout else ""
        if not line.startswith("listening on"):
            raise RuntimeError(f"receiver: {line!r}")
        self.port = int(line.split()[-1])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def call(self, method: str, path: str, payload=None):
        import urllib.request

        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method=method
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310  # nosec B310
            return json.loads(response.read())

    def records(self, path: str) -> list[dict]:
        return [r for r in self.call("GET", "/_records") if r["path"] == path]


def _hook_world(receiver: Receiver, path: str):
    # Django is set up only once World.boot() has configured it: import the app here.
    from django.contrib.auth import get_user_model

    from projects.models import Project
    from webhooks.services import create_subscription

    project = Project.objects.order_by("key").first()
    manager = get_user_model().objects.get(username="manager")
    sub = create_subscription(
        project,
        actor=manager,
        url=f"http://127.0.0.1:{receiver.port}{path}",
        event_types=["issue.created", "issue.commented"],
    )
    receiver.call("POST", "/_secrets", {path: [sub.secret]})
    return project, manager, sub


def _hook_figures(receiver: Receiver, path: str, sub) -> tuple[int, int, int, bool, int]:
    """(distinct delivered, duplicates, unverified, in order per issue, expected)."""
    # Django is set up only once World.boot() has configured it: import the app here.
    from webhooks.models import Delivery

    got = [
        r for r in receiver.records(path) if r["answer"] == "200" or r["answer"].startswith("sleep")
    ]
    ids = [r["id"] for r in got]
    expected = list(
        Delivery.objects.filter(subscription=sub)
        .order_by("id")
        .values_list("issue_id", "webhook_id")
    )
    order: dict[int, list[str]] = {}
    for issue_id, webhook_id in expected:
        order.setdefault(issue_id, []).append(webhook_id)
    first_seen: list[str] = list(dict.fromkeys(ids))
    position = {wid: n for n, wid in enumerate(first_seen)}
    in_order = all(
        [position.get(w, -1) for w in wids] == sorted(position.get(w, -1) for w in wids)
        for wids in order.values()
    )
    unverified = sum(not r["verified"] for r in got)
    return len(set(ids)), len(ids) - len(set(ids)), unverified, in_order, len(expected)


def scenario_webhooks(w: World) -> None:
    name = "Webhooks"
    # Django is set up only once World.boot() has configured it: import the app here.
    from issues.services import add_comment
    from workflows.issue_use_cases import create_issue

    receiver = Receiver(w.dir)
    receiver.start()
    try:
        # 1. The receiver is down for 30 s (10 s quick) while events happen.
        project, manager, sub = _hook_world(receiver, "/outage")
        port = receiver.port
        receiver.stop()
        w.procs.worker(pool="prefork", concurrency=2)
        issues = [
            create_issue(project, reporter=manager, title=f"Hook outage {i}") for i in range(5)
        ]
        for n in range(5):
            for issue in issues:
                add_comment(issue, author=manager, body=f"outage comment {n}")
        down = 10 if w.quick else 30
        time.sleep(down)
        receiver.start(port, secrets={"/outage": sub.secret})
        from webhooks.models import Delivery

        waited = wait_for(
            lambda: Delivery.objects.filter(subscription=sub, state="succeeded").count() == 30,
            180, "every webhook after the receiver came back",
        )  # fmt: skip
        distinct, dupes, unverified, in_order, expected = _hook_figures(receiver, "/outage", sub)
        record(name, f"receiver down {down} s: delivered / dup / unverified",
               f"{distinct}/{expected}, {dupes} dup, {unverified} unverified",
               f"{expected}/{expected}, 0 dup, 0", distinct == expected == 30 and dupes == 0
               and unverified == 0)  # fmt: skip
        record(name, "in event order per issue (5 issues x 6 events)", in_order, "True", in_order)
        record(name, "delivered after receiver back (s)", f"{waited:.1f}", "<= 60", waited <= 60)
        w.procs.stop_all()

        # 2. The worker is SIGKILLed in the middle of a batch.
        project, manager, sub = _hook_world(receiver, "/kill")
        receiver.call("POST", "/_script", {"/kill": ["sleep:0.15"] * 40})
        issues = [
            create_issue(project, reporter=manager, title=f"Hook kill {i}") for i in range(20)
        ]
        for issue in issues:
            add_comment(issue, author=manager, body="kill comment")
        worker = w.procs.worker(pool="solo", concurrency=1)
        wait_for(lambda: len(receiver.records("/kill")) >= 8, 60, "the batch under way")
        time.sleep(random.uniform(0, 0.15))  # nosec B311
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        at_kill = len({r["id"] for r in receiver.records("/kill")})
        w.procs.worker(pool="solo", concurrency=1)
        waited = wait_for(
            lambda: Delivery.objects.filter(subscription=sub, state="succeeded").count() == 40,
            180, "every webhook after the restart",
        )  # fmt: skip
        distinct, dupes, unverified, _, expected = _hook_figures(receiver, "/kill", sub)
        record(name, "SIGKILL mid batch: delivered / repeats (same webhook-id)",
               f"{distinct}/{expected}, {dupes} repeated (killed at {at_kill})",
               f"{expected}/{expected}, <= 4 (POSTs in flight)",
               distinct == expected == 40 and dupes <= 4 and unverified == 0)  # fmt: skip
        # The same bound as the e-mail scenario: a worker restart, the broker's visibility
        # timeout and the expiry of the dead worker's claims come first.
        record(name, "all sent after restart (s)", f"{waited:.1f}", "<= 180", waited <= 180)
    finally:
        receiver.stop()
        w.procs.stop_all()
