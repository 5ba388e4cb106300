"""Writes of the intake app: tokens, settings, ingesting events, regressions, assignment.

`ingest_event` is the heart:
1. bump the event group of the fingerprint (the UPDATE row-locks it), or create it on first
   sight (one row per fingerprint is guaranteed by a unique constraint; on PostgreSQL one
   `INSERT … ON CONFLICT DO UPDATE`, so concurrent first events wait for the first one's row
   and create ONE group and ONE issue);
2. record the occurrence, bump the count, first/last seen and the per-day count;
3. refuse a duplicate client event id (idempotency): a unique constraint refuses the
   occurrence, the transaction rolls back whole and the first recording is answered;
4. file the issue once the project's threshold is reached in its window, or handle a
   regression when the group's issue is Fixed/Closed.
All in one transaction: an event is either fully recorded or not at all.

The common case on PostgreSQL, a repeat of a group whose issue is open, is ONE prepared
statement in autocommit (a single statement is atomic by itself: no BEGIN/COMMIT round
trips); it matches nothing for a new fingerprint, a group without an issue or a group whose
issue is Fixed/Closed, which then take the transaction above.
"""

from .filing import REOPEN_STATUS, STAYS_CLOSED_RESOLUTIONS, release_version
from .ingest import IngestResult, ingest_event
from .people import create_assignment_rule, delete_assignment_rule, set_availability
from .tokens import (
    IntakeError,
    create_intake_token,
    get_intake_settings,
    revoke_intake_token,
    touch_token,
    update_intake_settings,
)

__all__ = [
    "IngestResult",
    "IntakeError",
    "REOPEN_STATUS",
    "STAYS_CLOSED_RESOLUTIONS",
    "create_assignment_rule",
    "create_intake_token",
    "delete_assignment_rule",
    "get_intake_settings",
    "ingest_event",
    "release_version",
    "revoke_intake_token",
    "set_availability",
    "touch_token",
    "update_intake_settings",
]
