"""Handing work to the worker after the commit: notification emails in chunks, and one outbox
run per transaction however many events it records."""

import logging
from collections.abc import Sequence
from typing import Any

from celery import Task
from django.db import transaction

from issues.models import IssueEvent

# The services queue the app's tasks and the tasks call the services: each names the other
# as a module (attributes read at call time), so either may be imported first.
from .. import tasks

log = logging.getLogger(__name__)


# Emails per queued send task: few broker messages, one SMTP connection per chunk.
EMAIL_CHUNK = 50


def queue_emails(notification_ids: Sequence[int]) -> None:
    """After the commit, hand the emails to the worker in chunks (one task per chunk)."""
    ids = list(notification_ids)
    if not ids:
        return

    def publish() -> None:
        for start in range(0, len(ids), EMAIL_CHUNK):
            _publish(tasks.send_notification_emails, ids[start : start + EMAIL_CHUNK])

    transaction.on_commit(publish)


def _publish(task: Task, *args: Any) -> None:
    # A broker outage must not break the user's request: the beat catch-up re-queues
    # everything still pending, so nothing is lost.
    try:
        task.delay(*args)
    except Exception:
        log.exception("Could not queue %s; the catch-up beat entry will retry", task.name)


def _publish_outbox() -> None:
    _publish(tasks.process_outbox)


def kick_outbox() -> None:
    """Process the outbox once the current transaction commits.

    One task per transaction, however many events it records (filing an issue records 3-4:
    created, watchers, SLA clock), since each task is a broker round trip on the request's
    path and one run handles every pending event. "Per transaction" is per atomic block: a
    callback registered in the same block (same savepoints) is enough, and a rolled-back
    block drops its callback with it, so a later event registers a new one.
    """
    conn = transaction.get_connection()
    if conn.in_atomic_block:
        here = set(conn.savepoint_ids)
        if any(
            func is _publish_outbox and savepoints == here
            for savepoints, func, _robust in conn.run_on_commit
        ):
            return
    transaction.on_commit(_publish_outbox)


def one_outbox_kick_since(since: int) -> None:
    """Keep one outbox kick among the commit callbacks registered since `since` (an index
    into the connection's `run_on_commit`, taken before a batch began).

    Each unit of a batch that runs in its own savepoint (a mail message, say) registers its
    own kick, so a batch of 50 would publish 50 tasks. Once those savepoints are released
    or rolled back, the kicks that remain run at the batch's commit: the first is enough (one
    run handles every pending event), the others are dropped. Callbacks registered before
    `since`, or of other kinds, are left alone."""
    connection = transaction.get_connection()
    ours = connection.run_on_commit[since:]
    first = next((n for n, entry in enumerate(ours) if entry[1] is _publish_outbox), None)
    if first is not None:
        connection.run_on_commit[since:] = [
            entry for n, entry in enumerate(ours) if entry[1] is not _publish_outbox or n == first
        ]


def kick_outbox_on_new_event(
    sender: type[IssueEvent], instance: IssueEvent, created: bool, **kwargs: Any
) -> None:
    """post_save receiver on IssueEvent (connected in apps.py): a new, unprocessed event kicks
    the outbox after the commit."""
    if created and instance.notified_at is None:
        kick_outbox()
