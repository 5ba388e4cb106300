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

from .fanout import create_deliveries_for_events
from .queueing import kick, queue_senders
from .sending import BATCH, TurnResult, backoff, deliver_due, due_subscription_ids, reserve_wake
from .subscriptions import (
    SubscriptionError,
    create_subscription,
    redeliver,
    rotate_secret,
    send_ping,
    update_subscription,
)

__all__ = [
    "BATCH",
    "SubscriptionError",
    "TurnResult",
    "backoff",
    "create_deliveries_for_events",
    "create_subscription",
    "deliver_due",
    "due_subscription_ids",
    "kick",
    "queue_senders",
    "redeliver",
    "reserve_wake",
    "rotate_secret",
    "send_ping",
    "update_subscription",
]
