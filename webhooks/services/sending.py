"""Sending: claim an endpoint's due deliveries, sign and POST them, record the answer, back
off and disable a failing endpoint."""

import logging
import random
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, Min, OuterRef, Q
from django.utils import timezone

from .. import sender, tasks
from ..models import (
    PING,
    Attempt,
    Delivery,
    DeliveryState,
    Subscription,
    SubscriptionState,
)

log = logging.getLogger(__name__)


# Deliveries claimed at once by one sender (one endpoint).
BATCH = 100


@dataclass
class TurnResult:
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    next_wake: datetime | None = None
    again_now: bool = False


def _claimable(now: datetime) -> Q:
    return Q(state=DeliveryState.PENDING, next_attempt_at__lte=now) | Q(
        state=DeliveryState.SENDING, claimed_until__lt=now
    )


def _claim(sub: Subscription, now: datetime, limit: int, *, pings_only: bool) -> list[Delivery]:
    """Lock and claim up to `limit` due deliveries, none behind an unfinished earlier one of
    the same issue (per-issue order)."""
    earlier = Delivery.objects.filter(
        subscription_id=OuterRef("subscription_id"),
        issue_id=OuterRef("issue_id"),
        id__lt=OuterRef("id"),
        state__in=[DeliveryState.PENDING, DeliveryState.SENDING],
    )
    claim_for = timedelta(seconds=settings.WEBHOOK_CLAIM_SECONDS)
    with transaction.atomic():
        qs = Delivery.objects.filter(_claimable(now), subscription_id=sub.pk)
        if pings_only:
            qs = qs.filter(type=PING)
        rows = list(
            qs.exclude(Exists(earlier))
            .order_by("id")
            .only("id", "webhook_id", "body", "type", "attempts", "give_up_at")
            .select_for_update(skip_locked=True)[:limit]
        )
        if not rows:
            return []
        until = now + claim_for
        Delivery.objects.filter(id__in=[r.id for r in rows]).update(
            state=DeliveryState.SENDING, claimed_until=until, attempts=F("attempts") + 1
        )
        for r in rows:
            r.claimed_until = until
            r.attempts += 1
    return rows


def backoff(attempt: int) -> float:
    """Seconds before retry `attempt` (1, 2 …): base·2^(n-1) capped, with half of it jittered."""
    delay = min(settings.WEBHOOK_BACKOFF_BASE * 2 ** (attempt - 1), settings.WEBHOOK_BACKOFF_MAX)
    return delay / 2 + random.uniform(0, delay / 2)  # noqa: S311  # nosec B311


def _retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After in seconds (delta-seconds or an HTTP date), None if absent or garbled."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def _retryable(result: sender.Result) -> bool:
    if result.refused:
        return False
    if result.status is None:
        return True
    return result.status in (408, 429) or result.status >= 500


def _secrets(sub: Subscription, now: datetime) -> list[str]:
    keys = [sub.secret]
    if sub.previous_secret and sub.previous_secret_until and sub.previous_secret_until > now:
        keys.append(sub.previous_secret)
    return keys


def _record(
    sub: Subscription, delivery: Delivery, result: sender.Result, at: datetime
) -> tuple[str, datetime | None]:
    """Store the attempt and the delivery's new state; (state, next attempt)."""
    now = timezone.now()
    next_at: datetime | None = None
    if result.status is not None and 200 <= result.status < 300:
        state = DeliveryState.SUCCEEDED
    elif _retryable(result):
        wait = backoff(delivery.attempts)
        if result.status == 429:
            wait = max(wait, _retry_after(result.retry_after, now) or 0.0)
        next_at = now + timedelta(seconds=wait)
        state = DeliveryState.PENDING if next_at <= delivery.give_up_at else DeliveryState.FAILED
    else:
        state = DeliveryState.FAILED
    error = result.error
    if state == DeliveryState.FAILED and _retryable(result):
        error = f"Gave up after {delivery.attempts} attempts. {error}".strip()
    elif result.status is not None and 300 <= result.status < 400:
        error = "Redirects are not followed; point the webhook at the final URL."
    with transaction.atomic():
        _async_commit()
        owned = Delivery.objects.filter(
            pk=delivery.pk, state=DeliveryState.SENDING, claimed_until=delivery.claimed_until
        ).update(
            state=state,
            claimed_until=None,
            next_attempt_at=next_at or F("next_attempt_at"),
            delivered_at=now if state == DeliveryState.SUCCEEDED else None,
            last_status=result.status,
            last_error=error[:300],
        )
        if not owned:
            # Our claim expired and another sender took over; its record is the one kept.
            return state, None
        Attempt.objects.create(
            delivery_id=delivery.pk,
            at=at,
            status_code=result.status,
            duration_ms=result.duration_ms,
            response_excerpt=result.excerpt,
            error=error[:300],
            outcome=state,
        )
    return state, next_at if state == DeliveryState.PENDING else None


def _async_commit() -> None:
    """Marking a delivery need not wait for the WAL flush: if PostgreSQL itself crashed in the
    next fraction of a second, the mark would be lost and the delivery sent again — with the
    same webhook-id, which is the promise anyway. Saves a disk flush per delivery."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _release(rows: Sequence[Delivery], *, until: datetime | None) -> None:
    """Give back claimed, unattempted deliveries (their attempt is not counted)."""
    for r in rows:
        Delivery.objects.filter(
            pk=r.pk, state=DeliveryState.SENDING, claimed_until=r.claimed_until
        ).update(
            state=DeliveryState.PENDING,
            claimed_until=None,
            attempts=F("attempts") - 1,
            next_attempt_at=until or F("next_attempt_at"),
        )


def _note_failure(sub: Subscription, now: datetime) -> None:
    Subscription.objects.filter(pk=sub.pk, failing_since__isnull=True).update(failing_since=now)
    limit = now - timedelta(hours=settings.WEBHOOK_DISABLE_AFTER_HOURS)
    with transaction.atomic():
        disabled = Subscription.objects.filter(
            pk=sub.pk, state=SubscriptionState.ACTIVE, failing_since__lte=limit
        ).update(state=SubscriptionState.DISABLED, disabled_at=now)
        if disabled:
            log.warning("Webhook subscription %s disabled after failing since %s", sub.pk, limit)
            sub.state = SubscriptionState.DISABLED

            def mail() -> None:
                try:
                    tasks.mail_disabled_subscription.delay(sub.pk)
                except Exception:
                    log.exception("Could not queue the disabled-webhook e-mail")

            transaction.on_commit(mail)


_pool: ThreadPoolExecutor | None = None


def _send_pool() -> ThreadPoolExecutor:
    """Threads for the HTTP part only (created in the worker process, after the fork)."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(settings.WEBHOOK_SEND_THREADS, thread_name_prefix="webhook")
    return _pool


def deliver_due(subscription_id: int, *, force: bool = False) -> TurnResult:
    """One turn of an endpoint's sender.

    1. Claim a batch of due deliveries (per-issue order; SKIP LOCKED, conditional UPDATE).
    2. POST each (vetted address, signatures, timeouts); record the attempt and the new state.
       A timeout or refused connection ends the batch: the rest waits as long as that one.
    3. Repeat until nothing is due or the turn's time is up; say when to wake up next.
    `force` sends only pings of a paused or disabled endpoint (the test button).
    """
    result = TurnResult()
    # From now on a new event queues a new sender (this one may already be past its rows).
    Subscription.objects.filter(pk=subscription_id).update(sender_queued_at=None)
    sub = Subscription.objects.filter(pk=subscription_id).first()
    if sub is None:
        return result
    pings_only = sub.state != SubscriptionState.ACTIVE
    if pings_only and not force:
        return result
    started = time.monotonic()
    turn = settings.WEBHOOK_TURN_SECONDS
    succeeded_at: datetime | None = None
    pool = _send_pool()
    while True:
        rows = _claim(sub, timezone.now(), BATCH, pings_only=pings_only)
        if not rows:
            break
        stopped = False
        # A batch holds at most one delivery per issue, so its POSTs may overlap (up to
        # WEBHOOK_SEND_THREADS at once) without breaking the per-issue order.
        waiting = list(rows)
        in_flight: dict[Future, tuple[Delivery, datetime]] = {}
        while waiting or in_flight:
            while waiting and not stopped and len(in_flight) < settings.WEBHOOK_SEND_THREADS:
                if time.monotonic() - started > turn:
                    result.again_now = stopped = True
                    break
                delivery = waiting.pop(0)
                at = timezone.now()
                headers = sender.headers_for(
                    _secrets(sub, at), delivery.webhook_id, at, delivery.body, sub.payload_version
                )
                in_flight[pool.submit(sender.post, sub.url, delivery.body, headers)] = (
                    delivery,
                    at,
                )
            if not in_flight:
                break
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                delivery, at = in_flight.pop(future)
                outcome = future.result()
                state, next_at = _record(sub, delivery, outcome, at)
                if state == DeliveryState.SUCCEEDED:
                    result.sent += 1
                    succeeded_at = timezone.now()
                    continue
                if state == DeliveryState.FAILED:
                    result.failed += 1
                else:
                    result.retrying += 1
                if delivery.type != PING:
                    _note_failure(sub, at)
                if outcome.unreachable and not stopped:
                    # The endpoint is down: what has not left yet waits as long as this one.
                    _release(waiting, until=next_at)
                    waiting = []
                    stopped = True
        if waiting:
            _release(waiting, until=None)
        # A short batch is not the end: it may have unblocked later events of its issues.
        if stopped or sub.state != SubscriptionState.ACTIVE:
            break
        if time.monotonic() - started > turn:
            result.again_now = True
            break
    if succeeded_at is not None:
        Subscription.objects.filter(pk=sub.pk).update(
            failing_since=None, last_success_at=succeeded_at
        )
    if not result.again_now:
        result.next_wake = _next_wake(sub)
    return result


def _next_wake(sub: Subscription) -> datetime | None:
    now = timezone.now()
    unfinished = Delivery.objects.filter(subscription_id=sub.pk)
    soonest = unfinished.filter(state=DeliveryState.PENDING, next_attempt_at__gt=now).aggregate(
        at=Min("next_attempt_at")
    )["at"]
    claimed = unfinished.filter(state=DeliveryState.SENDING).aggregate(at=Min("claimed_until"))[
        "at"
    ]
    times = [t for t in (soonest, claimed) if t is not None]
    return min(times) if times else None


def reserve_wake(subscription_id: int, at: datetime) -> bool:
    """Note that a sender will run at `at`, unless one is already due by then."""
    now = timezone.now()
    return bool(
        Subscription.objects.filter(pk=subscription_id)
        .filter(Q(wake_at__isnull=True) | Q(wake_at__lte=now) | Q(wake_at__gt=at))
        .update(wake_at=at)
    )


def due_subscription_ids() -> list[int]:
    """Active endpoints with something to send now (the catch-up beat entry)."""
    now = timezone.now()
    return list(
        Delivery.objects.filter(_claimable(now), subscription__state=SubscriptionState.ACTIVE)
        .order_by()
        .values_list("subscription_id", flat=True)
        .distinct()
    )
