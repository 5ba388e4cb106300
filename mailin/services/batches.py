"""Filing stored messages in batches, after the transport acknowledged them (the SMTP
receiver's 250 follows the store's commit; filing follows the 250).

One transaction per batch: the rows are claimed with `SELECT … FOR UPDATE SKIP LOCKED`
(two receivers, or a receiver and the catch-up, never take the same row), each message is
handled in its own savepoint (one bad message rolls back only itself and goes to
quarantine), and the outbox is kicked once per batch, not once per message."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from issues.services import IssueError
from notifications import services as notification_services

from ..models import MailMessage, MailStatus
from .common import REASON_LIMIT, Refused
from .processing import _finish, _handle
from .quarantine import _bounce

log = logging.getLogger(__name__)

BATCH = 50


def file_received(*, limit: int = BATCH, older_than: timedelta | None = None) -> int:
    """File, comment, ignore or quarantine up to `limit` stored messages (oldest first) in
    one transaction; returns how many were handled (0: nothing left to claim)."""
    bounces: list[MailMessage] = []
    with transaction.atomic():
        callbacks = len(transaction.get_connection().run_on_commit)
        pending = MailMessage.objects.filter(status=MailStatus.RECEIVED)
        if older_than is not None:
            pending = pending.filter(received_at__lte=timezone.now() - older_than)
        rows = list(
            pending.select_for_update(skip_locked=True, of=("self",))
            .select_related("project", "address")
            .order_by("pk")[:limit]
        )
        for row in rows:
            refusal = _file_one(row)
            if refusal is None:
                continue
            reason, bounce = refusal
            row.status, row.reason = MailStatus.QUARANTINED, reason[:REASON_LIMIT]
            row.issue = row.comment = None
            row.processed_at = timezone.now()
            MailMessage.objects.filter(pk=row.pk).update(
                status=row.status, reason=row.reason, processed_at=row.processed_at
            )
            if bounce:
                bounces.append(row)
        _one_outbox_kick(callbacks)
    for row in bounces:  # after the commit: a bounce is mail, never undone
        _bounce(row)
    return len(rows)


def _file_one(row: MailMessage) -> tuple[str, bool] | None:
    """Handle one claimed row in a savepoint; the refusal (reason, bounce) or None."""
    try:
        with transaction.atomic():
            _handle(row)
            _finish(row)
        return None
    except Refused as refused:
        return refused.reason, refused.bounce
    except IssueError as exc:
        return str(exc), True
    except Exception as exc:
        log.exception("Mail %s could not be processed", row.pk)
        return f"Could not be processed ({type(exc).__name__}); kept for a manager.", False


def _one_outbox_kick(since: int) -> None:
    """Every filing registers the outbox kick in its own savepoint, so a batch of 50 would
    publish 50 tasks. Once every savepoint is released or rolled back, all the batch's
    kicks that remain run at its commit: the first is enough (one run handles every
    pending event), the others are dropped."""
    connection = transaction.get_connection()
    kick = notification_services._publish_outbox
    ours = connection.run_on_commit[since:]
    first = next((n for n, entry in enumerate(ours) if entry[1] is kick), None)
    if first is not None:
        connection.run_on_commit[since:] = [
            entry for n, entry in enumerate(ours) if entry[1] is not kick or n == first
        ]


def file_all_received(*, limit: int = BATCH, older_than: timedelta | None = None) -> int:
    """Batches until nothing is left to claim; returns how many messages were handled."""
    total = 0
    while n := file_received(limit=limit, older_than=older_than):
        total += n
    return total


def process_pending_mail(*, older_than: timedelta = timedelta(minutes=2)) -> int:
    """Process rows stored but left unprocessed (the catch-up beat task: a receiver that
    stopped between its 250 and filing, or a crash)."""
    return file_all_received(older_than=older_than)
