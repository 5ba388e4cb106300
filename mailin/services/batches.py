"""Filing stored messages in batches, after the transport acknowledged them (the SMTP
receiver's 250 follows the store's commit; filing follows the 250).

One transaction per batch: the rows are claimed with `SELECT … FOR UPDATE SKIP LOCKED`
(two receivers, or a receiver and the catch-up, never take the same row), each message is
handled in its own savepoint (one bad message rolls back only itself and goes to
quarantine), and the outbox is kicked once per batch, not once per message."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.db import DatabaseError, transaction
from django.utils import timezone

from issues.mailthread import read_reply_token
from issues.services import IssueError, batched_issue_writes
from notifications.services import one_outbox_kick_since

from .. import parsing
from ..models import MailMessage, MailStatus
from .common import REASON_LIMIT, Refused, batch_lookups
from .filing import prime_people
from .processing import _handle_read, _read, recent_counts
from .quarantine import _bounce
from .replies import _reply_token

log = logging.getLogger(__name__)

# What filing writes on a row (one statement for the whole batch).
OUTCOME_FIELDS = ["status", "reason", "issue", "comment", "processed_at", "sender"]

BATCH = 50
CHUNK = 10  # rows claimed, read and counted together within a batch
# A batch stops taking messages after this long: what it files shows only once it commits.
# (It holds no row a form or another filer waits for: it takes the key counter as it ends.)
BUDGET_SECONDS = 1.0


def file_received(
    *, limit: int = BATCH, older_than: timedelta | None = None, budget: float = BUDGET_SECONDS
) -> int:
    """File, comment, ignore or quarantine up to `limit` stored messages (oldest first) in
    one transaction, for at most about `budget` seconds (the rows not reached are left for
    the next batch); returns how many were handled (0: nothing left to claim). A deadlock
    with another transaction rolls the batch back and runs it again (nothing is
    quarantined for it)."""
    for attempt in range(1, 4):
        try:
            handled, bounces = _file_batch(limit=limit, older_than=older_than, budget=budget)
        except DatabaseError as exc:
            if attempt == 3 or not _transient(exc):
                raise
            log.warning("Mail filing batch rolled back (%s); again", exc.__cause__ or exc)
            time.sleep(0.1 * attempt)
            continue
        for row in bounces:  # after the commit: a bounce is mail, never undone
            _bounce(row)
        return handled
    raise AssertionError("unreachable")


def _file_batch(
    *, limit: int, older_than: timedelta | None, budget: float
) -> tuple[int, list[MailMessage]]:
    """Claim rows a chunk at a time while the budget lasts; per chunk, read its messages
    (pure Python), count their senders' recent mail in one query, and file each in its
    savepoint; then write every row's outcome in one statement."""
    started = time.monotonic()
    bounces: list[MailMessage] = []
    handled: list[MailMessage] = []
    # Batches of several filers (each receiver process, a poller, the catch-up) run at once:
    # they claim different rows, and the rows they share — a project's key counter, an
    # issue a reply touches — are taken only as the batch ends (`batched_issue_writes`).
    with transaction.atomic(), batch_lookups(), batched_issue_writes():
        connection = transaction.get_connection()
        callbacks = len(connection.run_on_commit)
        pending = MailMessage.objects.filter(status=MailStatus.RECEIVED)
        if older_than is not None:
            pending = pending.filter(received_at__lte=timezone.now() - older_than)
        claim = (
            pending.select_for_update(skip_locked=True, of=("self",))
            .select_related("project", "address")
            .order_by("pk")
        )
        # Claimed a chunk at a time: a slow batch holds no more rows than it files, so the
        # other filers take the rest.
        while len(handled) < limit and not (handled and time.monotonic() - started > budget):
            # The rows already claimed are still "received" and ours (SKIP LOCKED skips only
            # the locks of others): go on after them.
            after = claim.filter(pk__gt=handled[-1].pk) if handled else claim
            rows = list(after[: min(CHUNK, limit - len(handled))])
            if not rows:
                break
            handled.extend(rows)
            bounces.extend(_file_chunk(rows))
        if handled:
            _write_outcomes(handled)
        one_outbox_kick_since(callbacks)
    return len(handled), bounces


# Constant SQL; the values go as parameters (arrays, one element per row).
_OUTCOMES_SQL = (
    "UPDATE mailin_mailmessage AS m SET status = v.status, reason = v.reason,"
    " issue_id = v.issue_id, comment_id = v.comment_id, processed_at = v.processed_at,"
    " sender = v.sender FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::bigint[],"
    " %s::bigint[], %s::timestamptz[], %s::text[])"
    " AS v(id, status, reason, issue_id, comment_id, processed_at, sender) WHERE m.id = v.id"
)


def _write_outcomes(rows: list[MailMessage]) -> None:
    """Each row's outcome, in one statement (PostgreSQL: arrays, several times cheaper to
    build than `bulk_update`'s CASE per field and row)."""
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        MailMessage.objects.bulk_update(rows, OUTCOME_FIELDS)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _OUTCOMES_SQL,
            [
                [row.pk for row in rows],
                [row.status for row in rows],
                [row.reason for row in rows],
                [row.issue_id for row in rows],
                [row.comment_id for row in rows],
                [row.processed_at for row in rows],
                [row.sender for row in rows],
            ],
        )


def _file_chunk(rows: list[MailMessage]) -> list[MailMessage]:
    """File, comment, ignore or refuse claimed rows (their outcome set on them, not yet
    written); returns those whose sender gets a bounce."""
    stored_senders = {row.pk: row.sender for row in rows}
    read: dict[int, parsing.ParsedMail | None] = {}
    refusals: dict[int, tuple[str, bool]] = {}
    for row in rows:
        try:
            read[row.pk] = _read(row)
        except Exception as exc:
            refusals[row.pk] = _refusal(row, exc)
    recent = recent_counts([row for row in rows if read.get(row.pk) is not None])
    prime_people([(row, mail, *_replier(row)) for row in rows if (mail := read.get(row.pk))])
    bounces = []
    for row in rows:
        mail = read.get(row.pk)
        refusal = refusals.get(row.pk)
        if refusal is None and mail is not None:
            refusal = _file_one(row, mail, recent=recent.get(row.pk))
        row.processed_at = timezone.now()
        if refusal is None:
            continue
        reason, bounce = refusal
        row.status, row.reason = MailStatus.QUARANTINED, reason[:REASON_LIMIT]
        row.issue = row.comment = None
        row.sender = stored_senders[row.pk]  # as stored: what was read may not be storable
        if bounce:
            bounces.append(row)
    return bounces


def _transient(exc: BaseException) -> bool:
    """A deadlock, a serialisation failure or a lock timeout: worth running again."""
    cause = exc.__cause__ or exc
    return getattr(cause, "sqlstate", None) in {"40P01", "40001", "55P03"}


def _refusal(row: MailMessage, exc: Exception) -> tuple[str, bool]:
    """Why a message goes to quarantine (reason, bounce) for what its handling raised; a
    transient database error is raised again (not the message's fault: the batch reruns)."""
    if isinstance(exc, Refused):
        return exc.reason, exc.bounce
    if isinstance(exc, IssueError):
        return str(exc), True
    if isinstance(exc, DatabaseError) and _transient(exc):
        raise exc
    log.error("Mail %s could not be processed", row.pk, exc_info=exc)
    return f"Could not be processed ({type(exc).__name__}); kept for a manager.", False


def _replier(row: MailMessage) -> tuple[int | None, bool]:
    """(the user of its reply token, whether it is a reply at all)."""
    token = _reply_token(row)
    if token is None:
        return None, False
    parsed = read_reply_token(token)
    return (parsed[1] if parsed else None), True


def _file_one(
    row: MailMessage, mail: parsing.ParsedMail, *, recent: int | None
) -> tuple[str, bool] | None:
    """Handle one claimed, read row in a savepoint; the refusal (reason, bounce) or None."""
    try:
        with transaction.atomic():
            _handle_read(row, mail, recent=recent)
        return None
    except Exception as exc:
        return _refusal(row, exc)


def file_all_received(
    *, limit: int = BATCH, older_than: timedelta | None = None, budget: float = BUDGET_SECONDS
) -> int:
    """Batches until nothing is left to claim; returns how many messages were handled."""
    total = 0
    while n := file_received(limit=limit, older_than=older_than, budget=budget):
        total += n
    return total


def process_pending_mail(*, older_than: timedelta = timedelta(minutes=2)) -> int:
    """Process rows stored but left unprocessed (the catch-up beat task: a receiver that
    stopped between its 250 and filing, or a crash)."""
    return file_all_received(older_than=older_than)
