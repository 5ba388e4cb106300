"""Notification writes: the SLA sweep, the outbox fan-out, the inbox and preferences.

Exactly once, enforced by the database:
- the sweep claims each due checkpoint with `FOR UPDATE SKIP LOCKED` (PostgreSQL) and a
  conditional `UPDATE ... WHERE flagged_at IS NULL`, in the same transaction as the
  SLA_FLAGGED event and the alerts; a killed sweep rolls back and the next one redoes it;
- alerts are unique per (recipient, checkpoint arming, ladder step) and per (recipient, event),
  and inserted with ON CONFLICT DO NOTHING, so even a run that got past the claim cannot
  create a second one;
- emails are queued after the commit and sent by `notifications.emails` under a claim.
"""

from .digests import create_daily_digests
from .inbox import NotificationError, mark_all_read, mark_read, set_preferences
from .outbox import process_outbox
from .queueing import (
    EMAIL_CHUNK,
    _publish,
    _publish_outbox,
    kick_outbox,
    kick_outbox_on_new_event,
    one_outbox_kick_since,
    queue_emails,
)
from .rows import bulk_insert
from .sweep import SweepResult, result_passed, sweep_sla

__all__ = [
    "EMAIL_CHUNK",
    "NotificationError",
    "SweepResult",
    "_publish",
    "_publish_outbox",
    "bulk_insert",
    "create_daily_digests",
    "kick_outbox",
    "kick_outbox_on_new_event",
    "one_outbox_kick_since",
    "mark_all_read",
    "mark_read",
    "process_outbox",
    "queue_emails",
    "result_passed",
    "set_preferences",
    "sweep_sla",
]
