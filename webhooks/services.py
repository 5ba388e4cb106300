"""Webhook writes: subscriptions (create, edit, rotate, ping, redeliver, re-enable), the
fan-out from the activity outbox and the sending loop.

Guarantees and how they are kept:
- deliveries are created by `create_deliveries_for_events`, called inside the transaction
  in which the notifications outbox claims its activity records; unique per (subscription,
  event), inserted with ON CONFLICT DO NOTHING; the sender is queued after the commit;
- a delivery keeps its `webhook_id` and body for every attempt (only the signature's
  timestamp changes), so receivers can dedupe;
- per issue, one endpoint's deliveries go out in event order: a delivery is claimable only
  when no earlier delivery of the same issue to the same endpoint is unfinished;
- retries: exponential back-off with jitter (WEBHOOK_BACKOFF_BASE doubling, capped at
  WEBHOOK_BACKOFF_MAX) for about WEBHOOK_RETRY_HOURS on timeouts, connection errors, 408,
  429 (its Retry-After honoured) and 5xx; any other answer outside 2xx fails for good;
- an endpoint that failed for WEBHOOK_DISABLE_AFTER_HOURS without a success is disabled and
  its project's Managers are e-mailed; re-enabling resumes with what is pending;
- one endpoint's backlog never blocks another: each endpoint has its own task, which gives
  the worker back after WEBHOOK_TURN_SECONDS, and an unreachable endpoint stops its batch at
  the first timeout instead of timing out once per delivery.
"""

import logging
import random
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Exists, F, Min, OuterRef, Q
from django.utils import timezone

from issues.models import Comment, IssueEvent
from notifications.services import bulk_insert
from projects.models import Project

# Services queue the app's tasks and the tasks call services: each names the other as a module
# (attributes read at call time), so either may be imported first.
from . import payloads, sender, tasks
from .models import (
    PING,
    Attempt,
    Delivery,
    DeliveryState,
    EventType,
    Format,
    Subscription,
    SubscriptionState,
    new_secret,
)
from .urlsafety import UnsafeURL, check_target

log = logging.getLogger(__name__)

# Deliveries claimed at once by one sender (one endpoint).
BATCH = 100


class SubscriptionError(Exception):
    """A refused change; `str(error)` is shown to the user, next to `field` when set."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


# --- subscriptions --------------------------------------------------------------------------


def _clean(url: str, event_types: Sequence[str], fmt: str) -> tuple[str, list[str]]:
    url = url.strip()
    try:
        check_target(url)
    except UnsafeURL as e:
        raise SubscriptionError(str(e), field="url") from None
    known = set(EventType.values)
    chosen = [t for t in EventType.values if t in set(event_types)]
    unknown = sorted(set(event_types) - known)
    if unknown:
        raise SubscriptionError(f"Unknown event types: {', '.join(unknown)}.", field="event_types")
    if not chosen:
        raise SubscriptionError("Choose at least one event type.", field="event_types")
    if fmt not in Format.values:
        raise SubscriptionError("Choose a format.", field="format")
    return url, chosen


def create_subscription(
    project: Project,
    *,
    actor,
    url: str,
    event_types: Sequence[str],
    format: str = Format.STANDARD,
    description: str = "",
    active: bool = True,
) -> Subscription:
    """Validate (SSRF guard included) and save a subscription; its secret is new."""
    url, chosen = _clean(url, event_types, format)
    return Subscription.objects.create(
        project=project,
        url=url,
        event_types=chosen,
        format=format,
        description=description.strip()[:200],
        state=SubscriptionState.ACTIVE if active else SubscriptionState.PAUSED,
        created_by=actor,
    )


def update_subscription(
    subscription: Subscription,
    *,
    actor,
    url: str,
    event_types: Sequence[str],
    format: str,
    description: str,
    active: bool,
) -> Subscription:
    """Change a subscription. Turning a disabled one back on resumes what is pending."""
    url, chosen = _clean(url, event_types, format)
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().get(pk=subscription.pk)
        was = sub.state
        sub.url, sub.event_types, sub.format = url, chosen, format
        sub.description = description.strip()[:200]
        sub.state = SubscriptionState.ACTIVE if active else SubscriptionState.PAUSED
        if was == SubscriptionState.DISABLED and active:
            _resume(sub)
        elif was == SubscriptionState.DISABLED:
            sub.state = SubscriptionState.DISABLED  # paused stays disabled until turned on
        sub.save()
        if sub.state == SubscriptionState.ACTIVE:
            kick([sub.pk])
    return sub


def _resume(sub: Subscription) -> None:
    now = timezone.now()
    sub.failing_since = None
    sub.disabled_at = None
    sub.wake_at = None
    Delivery.objects.filter(subscription=sub, state=DeliveryState.PENDING).update(
        next_attempt_at=now, give_up_at=now + _retry_window()
    )


def rotate_secret(subscription: Subscription, *, actor) -> str:
    """A new secret; the old one keeps signing (second signature) for WEBHOOK_ROTATION_HOURS."""
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().get(pk=subscription.pk)
        sub.previous_secret = sub.secret
        sub.previous_secret_until = timezone.now() + timedelta(
            hours=settings.WEBHOOK_ROTATION_HOURS
        )
        sub.secret = new_secret()
        sub.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
    subscription.secret = sub.secret
    return sub.secret


def send_ping(subscription: Subscription, *, actor) -> Delivery:
    """Queue a `ping` (sent even while paused or disabled: it is how people test a fix)."""
    now = timezone.now()
    data = {
        "project": subscription.project.key,
        "subscription": subscription.pk,
        "message": f"Test from Resolve, sent by {actor}.",
    }
    delivery = Delivery.objects.create(
        subscription=subscription,
        type=PING,
        body=payloads.render_body(subscription.format, PING, data, at=now),
        next_attempt_at=now,
        give_up_at=now + _retry_window(),
        event_at=now,
    )
    kick([subscription.pk], force=True)
    return delivery


def redeliver(delivery: Delivery, *, actor) -> Delivery:
    """Send a finished delivery again: same webhook-id, same body, a fresh retry window."""
    now = timezone.now()
    updated = Delivery.objects.filter(
        pk=delivery.pk, state__in=[DeliveryState.SUCCEEDED, DeliveryState.FAILED]
    ).update(
        state=DeliveryState.PENDING,
        next_attempt_at=now,
        give_up_at=now + _retry_window(),
        claimed_until=None,
    )
    if not updated:
        raise SubscriptionError("This delivery is still being sent.")
    kick([delivery.subscription_id], force=delivery.type == PING)
    delivery.refresh_from_db()
    return delivery


# --- the fan-out from the outbox ------------------------------------------------------------


def _retry_window() -> timedelta:
    return timedelta(hours=settings.WEBHOOK_RETRY_HOURS)


def create_deliveries_for_events(events: Sequence[IssueEvent]) -> int:
    """Create the deliveries of a claimed outbox batch (inside the claim's transaction).

    One row per (event, subscription) whose project matches and which subscribed to one of
    the event's types (the most specific). Bodies are rendered now and never again. Active
    and disabled endpoints get rows (a disabled one keeps them for when it is re-enabled);
    paused ones do not. The senders are queued after the commit.
    """
    typed = [(e, payloads.candidate_types(e)) for e in events]
    typed = [(e, types) for e, types in typed if types]
    if not typed:
        return 0
    subs_of: dict[int, list[Subscription]] = defaultdict(list)
    for sub in Subscription.objects.filter(
        project_id__in={e.issue.project_id for e, _ in typed},
        state__in=[SubscriptionState.ACTIVE, SubscriptionState.DISABLED],
    ).only("id", "project_id", "event_types", "format", "state"):
        subs_of[sub.project_id].append(sub)
    if not subs_of:
        return 0
    typed = [(e, types) for e, types in typed if e.issue.project_id in subs_of]
    owners = get_user_model().objects.in_bulk(
        {e.issue.owner_id for e, _ in typed if e.issue.owner_id}
    )
    comment_ids = {
        e.data.get("comment_id") for e, types in typed if EventType.COMMENTED in types and e.data
    }
    excerpts = {
        pk: (body[:280] + "…") if len(body) > 280 else body
        for pk, body in Comment.objects.filter(id__in={c for c in comment_ids if c}).values_list(
            "id", "body"
        )
    }
    now = timezone.now()
    window = _retry_window()
    rows: list[Delivery] = []
    kicked: set[int] = set()
    for event, types in typed:
        issue = event.issue
        built: dict[str, dict] = {}
        for sub in subs_of[issue.project_id]:
            type_ = next((t for t in types if t in sub.event_types), None)
            if type_ is None:
                continue
            if type_ not in built:
                built[type_] = payloads.issue_data(
                    issue,
                    event,
                    type_,
                    owner=owners.get(issue.owner_id) if issue.owner_id else None,
                    comment_excerpt=excerpts.get(
                        int((event.data or {}).get("comment_id") or 0), ""
                    ),
                    now=now,
                )
            rows.append(
                Delivery(
                    subscription_id=sub.pk,
                    event_id=event.pk,
                    issue_id=issue.pk,
                    type=type_,
                    body=payloads.render_body(sub.format, type_, built[type_], at=event.created_at),
                    next_attempt_at=now,
                    give_up_at=now + window,
                    event_at=event.created_at,
                    created_at=now,
                )
            )
            if sub.state == SubscriptionState.ACTIVE:
                kicked.add(sub.pk)
    bulk_insert(rows, ignore_conflicts=True)
    kick(sorted(kicked))
    return len(rows)


# --- sending --------------------------------------------------------------------------------


def kick(subscription_ids: Iterable[int], *, force: bool = False) -> None:
    """After the commit, queue a sender task for each endpoint that has none queued."""
    ids = list(subscription_ids)
    if ids:
        transaction.on_commit(lambda: queue_senders(ids, force=force))


def queue_senders(subscription_ids: Iterable[int], *, force: bool = False) -> int:
    """Queue one sender per endpoint unless one is queued already (and not lost: a mark older
    than WEBHOOK_CLAIM_SECONDS is taken for a lost task). `force` always queues (pings)."""

    now = timezone.now()
    stale = now - timedelta(seconds=settings.WEBHOOK_CLAIM_SECONDS)
    queued = 0
    for sid in subscription_ids:
        free = Q(sender_queued_at__isnull=True) | Q(sender_queued_at__lt=stale)
        if not Subscription.objects.filter(free, pk=sid).update(sender_queued_at=now) and not force:
            continue
        try:
            tasks.deliver_webhooks.delay(sid, force=force)
            queued += 1
        except Exception:
            # The catch-up beat entry finds what is due; nothing is lost.
            Subscription.objects.filter(pk=sid).update(sender_queued_at=None)
            log.exception("Could not queue the webhook sender of subscription %s", sid)
    return queued


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


__all__ = [
    "SubscriptionError",
    "create_subscription",
    "update_subscription",
    "rotate_secret",
    "send_ping",
    "redeliver",
    "create_deliveries_for_events",
    "deliver_due",
]
