"""Webhooks end to end with the real pieces: PostgreSQL, Redis, a `celery worker` process and
an HTTP receiver process that verifies every signature with `standardwebhooks`."""

import os
import signal
import time
from collections import defaultdict
from datetime import timedelta

import pytest
from django.utils import timezone

from issues.services import add_comment
from notifications.services import sweep_sla
from tests.factories import make_issue
from tests.notifications.conftest import checkpoint, due_issue
from webhooks.models import Attempt, Delivery, DeliveryState, EventType, Format
from webhooks.services import create_subscription
from webhooks.tasks import requeue_due_webhooks
from workflows.issue_use_cases import update_issue
from workflows.models import CheckpointKind
from workflows.services import transition_issue

from .conftest import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def subscribe(project, manager, receiver, path="/hook", **kw):
    sub = create_subscription(
        project,
        actor=manager,
        url=receiver.url(path),
        event_types=kw.pop("event_types", EventType.values),
        **kw,
    )
    receiver.secrets(path, sub.secret)
    return sub


def delivered(n, sub=None):
    def check():
        qs = Delivery.objects.filter(state=DeliveryState.SUCCEEDED)
        if sub is not None:
            qs = qs.filter(subscription=sub)
        return qs.count() >= n

    return check


def test_every_event_kind_is_delivered_signed_and_the_chat_gets_a_readable_line(
    project, manager, developer, reporter, team, receiver, private_targets, workers
):
    sub = subscribe(project, manager, receiver)
    chat = subscribe(project, manager, receiver, "/chat", format=Format.CHAT)
    workers()
    issue = due_issue(
        project, reporter, title="Checkout times out", priority=3, severity=4, hours_left=1
    )
    transition_issue(issue, "assigned", actor=manager, owner=developer)
    transition_issue(issue, "revise", actor=developer)
    add_comment(issue, author=developer, body="Looking at the **payment** call")
    update_issue(issue, actor=developer, changes={"environment": "prod"})
    checkpoint(issue, due_at=timezone.now())
    sweep_sla()
    breached = due_issue(project, reporter, owner=developer, team=team, hours_left=0)
    checkpoint(breached, CheckpointKind.RESOLUTION_BREACH, due_at=timezone.now())
    sweep_sla()
    sweep_sla(now=timezone.now() + timedelta(hours=3))  # still breached: Managers
    transition_issue(issue, "closed", actor=manager, resolution="wont_fix", note="Vendor bug")
    wait_for(
        delivered(10, sub),
        60,
        lambda: list(
            Delivery.objects.order_by("id").values_list(
                "id",
                "issue_id",
                "type",
                "state",
                "attempts",
                "next_attempt_at",
                "last_error",
                "subscription_id",
            )
        ),
    )

    got = receiver.records("/hook")
    assert all(r["verified"] for r in got), [r["error"] for r in got]
    assert {r["body"]["type"] for r in got} == set(EventType.values)
    by_type = defaultdict(list)
    for r in got:
        by_type[r["body"]["type"]].append(r["body"])
        assert r["version"] == "1"
        assert r["id"].startswith("msg_")
    at_risk = by_type[EventType.SLA_AT_RISK][0]["data"]
    assert at_risk["key"] == issue.key
    assert at_risk["url"] == f"https://resolve.example/issues/{issue.key}/"
    assert (at_risk["priority"], at_risk["severity"]) == ("High", "Critical")
    assert at_risk["owner"]["username"] == "developer"
    assert at_risk["sla"]["resolution_due_at"] is not None
    assert at_risk["sla_alert"]["step"] == "warning"
    comment = by_type[EventType.COMMENTED][0]["data"]
    assert comment["comment"]["excerpt"] == "Looking at the **payment** call"
    assert comment["actor"]["username"] == "developer"
    assert by_type[EventType.FIELDS_CHANGED][0]["data"]["change"] == {
        "field": "environment",
        "old": "",
        "new": "prod",
    }
    closed = by_type[EventType.CLOSED][0]["data"]
    assert closed["resolution"] == "wont_fix"
    assert closed["status"] == "closed"
    assert by_type[EventType.ASSIGNED][0]["data"]["change"]["new"] == "assigned"
    assert by_type[EventType.ESCALATED][0]["data"]["key"] == breached.key
    # One delivery per event and endpoint, each sent once.
    assert len({r["id"] for r in got}) == len(got)

    wait_for(delivered(10, chat), 30, "chat deliveries")
    lines = [r["body"]["text"] for r in receiver.records("/chat")]
    assert all(r["verified"] for r in receiver.records("/chat"))
    risk_line = next(t for t in lines if " at risk: " in t)
    assert risk_line.startswith(f"[{issue.key}] at risk: due in ")
    assert "— Checkout times out (High · Critical · owner Developer)" in risk_line
    assert risk_line.endswith(f"https://resolve.example/issues/{issue.key}/")
    block = next(r["body"]["blocks"][0] for r in receiver.records("/chat"))
    assert block["type"] == "section" and block["text"]["type"] == "mrkdwn"


def test_receiver_down_then_up_everything_arrives_once_in_order_per_issue(
    project, manager, reporter, developer, receiver, private_targets, workers
):
    sub = subscribe(project, manager, receiver)
    port = receiver.port
    receiver.stop()
    workers()
    issues = [make_issue(project, reporter, title=f"Issue {i}") for i in range(3)]
    for issue in issues:
        for n in range(3):
            add_comment(issue, author=reporter, body=f"{issue.key} comment {n}")
    expected = Delivery.objects.filter(subscription=sub)
    wait_for(lambda: expected.count() == 12, 30, "deliveries created")
    wait_for(lambda: Attempt.objects.count() >= 3, 30, "failed attempts while down")
    assert not expected.filter(state=DeliveryState.SUCCEEDED).exists()
    receiver.start(port, secrets={"/hook": sub.secret})
    wait_for(delivered(12, sub), 60, lambda: list(expected.values_list("state", "attempts")))

    got = receiver.records("/hook")
    assert len(got) == 12 and len({r["id"] for r in got}) == 12
    assert all(r["verified"] for r in got)
    order = defaultdict(list)
    for r in got:
        order[r["body"]["data"]["key"]].append(r["id"])
    for issue in issues:
        ids = list(
            Delivery.objects.filter(subscription=sub, issue=issue)
            .order_by("event_id")
            .values_list("webhook_id", flat=True)
        )
        assert order[issue.key] == ids  # created, then the comments, in event order
    failed = Attempt.objects.filter(status_code__isnull=True)
    assert failed.exists() and "Connection failed" in failed.first().error


def test_500_then_200_retries_with_the_same_webhook_id(
    project, manager, reporter, receiver, private_targets, workers
):
    sub = subscribe(project, manager, receiver, event_types=[EventType.CREATED])
    receiver.script("/hook", "500", "503")
    workers()
    make_issue(project, reporter)
    wait_for(delivered(1, sub), 30, "delivered after two 5xx")
    got = receiver.records("/hook")
    assert [r["answer"] for r in got] == ["500", "503", "200"]
    assert len({r["id"] for r in got}) == 1
    # Each attempt is signed at its own time (whole seconds, so retries may share one).
    stamps = [int(r["timestamp"]) for r in got]
    assert stamps == sorted(stamps)
    assert all(r["verified"] for r in got)
    delivery = Delivery.objects.get(subscription=sub)
    assert list(delivery.attempt_log.values_list("status_code", flat=True)) == [500, 503, 200]


def test_429_retry_after_is_honoured(
    project, manager, reporter, receiver, private_targets, workers
):
    sub = subscribe(project, manager, receiver, event_types=[EventType.CREATED])
    receiver.script("/hook", "429:3")
    workers()
    make_issue(project, reporter)
    wait_for(delivered(1, sub), 30, "delivered after the 429")
    first, second = receiver.records("/hook")
    assert first["answer"] == "429:3" and second["answer"] == "200"
    assert second["received_at"] - first["received_at"] >= 3.0  # not the 0.5 s back-off
    assert first["id"] == second["id"]


def test_4xx_fails_for_good_after_one_attempt(
    project, manager, reporter, receiver, private_targets, workers
):
    sub = subscribe(project, manager, receiver, event_types=[EventType.CREATED])
    receiver.script("/hook", "410")
    workers()
    make_issue(project, reporter)
    d = Delivery.objects.filter(subscription=sub)
    wait_for(lambda: d.filter(state=DeliveryState.FAILED).exists(), 30, "failed")
    assert d.get().attempts == 1
    assert len(receiver.records("/hook")) == 1


def test_a_slow_receiver_times_out_and_is_retried(
    project, manager, reporter, receiver, private_targets, workers
):
    sub = subscribe(project, manager, receiver, event_types=[EventType.CREATED])
    other = subscribe(project, manager, receiver, "/other", event_types=[EventType.CREATED])
    receiver.script("/hook", "sleep:30")
    workers(pool="prefork", concurrency=2)
    make_issue(project, reporter)
    wait_for(delivered(1, other), 30, "the other endpoint is not held up")
    wait_for(delivered(1, sub), 30, "delivered after the timeout")
    first = Delivery.objects.get(subscription=sub).attempt_log.first()
    assert first.status_code is None and "Timed out" in first.error
    assert 900 <= first.duration_ms < 5000  # the 1 s read timeout of the test settings


def test_a_10_mb_answer_is_read_only_up_to_the_cap(
    project, manager, reporter, receiver, private_targets, workers
):
    sub = subscribe(project, manager, receiver, event_types=[EventType.CREATED])
    receiver.script("/hook", "big:10485760")
    workers()
    make_issue(project, reporter)
    wait_for(delivered(1, sub), 30, "delivered")
    attempt = Delivery.objects.get(subscription=sub).attempt_log.get()
    assert attempt.status_code == 200
    assert attempt.response_excerpt == "x" * 1024
    assert attempt.duration_ms < 3000


def test_worker_killed_mid_batch_loses_nothing_and_repeats_only_the_same_ids(
    project, manager, reporter, receiver, private_targets, workers, settings
):
    sub = subscribe(project, manager, receiver, event_types=[EventType.COMMENTED])
    receiver.script("/hook", *["sleep:0.1"] * 40)
    issue = make_issue(project, reporter)
    for n in range(20):
        other = issue if n % 2 else make_issue(project, reporter)
        add_comment(other, author=reporter, body=f"comment {n}")
    worker = workers()
    wait_for(lambda: len(receiver.records("/hook")) >= 5, 30, "the batch under way")
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    in_flight = Delivery.objects.filter(subscription=sub, state=DeliveryState.SENDING).count()
    workers()
    # The killed worker's claims (5 s here, as for the workers) lapse; then the catch-up beat
    # entry (every 30 s in production; no beat runs in this test) queues the endpoint again.
    settings.WEBHOOK_CLAIM_SECONDS = 5
    time.sleep(6)
    requeue_due_webhooks()
    wait_for(delivered(20, sub), 90, lambda: list(Delivery.objects.values_list("state", flat=True)))
    got = receiver.records("/hook")
    ids = [r["id"] for r in got]
    sent = set(Delivery.objects.filter(subscription=sub).values_list("webhook_id", flat=True))
    assert set(ids) == sent and len(sent) == 20
    repeats = len(ids) - len(set(ids))
    # Only POSTs in flight at the kill (at most WEBHOOK_SEND_THREADS) can arrive twice.
    assert repeats <= 4, (repeats, in_flight)
    assert all(r["verified"] for r in got)


def test_secret_rotation_old_and_new_both_verify_for_a_while(
    project, manager, reporter, receiver, private_targets, workers
):
    from webhooks.models import Subscription
    from webhooks.services import rotate_secret

    sub = subscribe(project, manager, receiver, event_types=[EventType.CREATED])
    old = sub.secret
    new = rotate_secret(sub, actor=manager)
    assert new != old and new.startswith("whsec_")
    # Two receivers of the same rotated subscription: one still has the old secret, one
    # already switched to the new one (the second a copy of the first's settings).
    both = subscribe(project, manager, receiver, "/new", event_types=[EventType.CREATED])
    Subscription.objects.filter(pk=both.pk).update(
        secret=new, previous_secret=old, previous_secret_until=timezone.now() + timedelta(hours=1)
    )
    receiver.secrets("/hook", old)
    receiver.secrets("/new", new)
    workers()
    make_issue(project, reporter)
    wait_for(delivered(2), 30, "delivered")
    old_side, new_side = receiver.records("/hook")[0], receiver.records("/new")[0]
    assert old_side["verified"] and new_side["verified"]
    assert len(old_side["signature"].split(" ")) == 2
    # Once the overlap is over, only the new secret signs.
    Subscription.objects.filter(pk=sub.pk).update(previous_secret_until=timezone.now())
    make_issue(project, reporter)
    wait_for(lambda: len(receiver.records("/hook")) == 2, 30, "second delivery")
    late = receiver.records("/hook")[1]
    assert not late["verified"] and len(late["signature"].split(" ")) == 1
    assert late["body"]["type"] == "issue.created"
