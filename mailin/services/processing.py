"""Step 2: file, comment, ignore or quarantine a stored message, exactly once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from issues.services import IssueError

from .. import parsing
from ..models import MailMessage, MailStatus
from .common import REASON_LIMIT, Refused, _own_from
from .filing import _file
from .quarantine import _bounce, _quarantine
from .replies import _comment, _reply_token
from .routing import _Envelope, _envelope, _stored, _Target

log = logging.getLogger(__name__)


def ingest(
    raw: bytes,
    *,
    transport: str,
    envelope_from: str | None = None,
    recipients: list[str] | None = None,
) -> list[MailMessage]:
    """Store and process the message for each project it is for: the row and what it
    files commit together (a crash before the commit leaves nothing, and nothing was
    acknowledged). A message seen before for a project is returned as it was handled."""
    envelope = _envelope(
        raw, transport=transport, envelope_from=envelope_from, recipients=recipients
    )
    return [_ingest_one(envelope, target) for target in envelope.targets]


def _ingest_one(envelope: _Envelope, target: _Target, *, attempt: int = 1) -> MailMessage:
    try:
        with transaction.atomic():
            row, _new = _stored(envelope, target)
            if row.status != MailStatus.RECEIVED:
                return row  # handled already: a repeat, or another worker won
            _handle(row)
            _finish(row)
            return row
    except IntegrityError:
        if attempt == 1:  # the same message stored concurrently: it is the other's now
            return _ingest_one(envelope, target, attempt=2)
        reason, bounce = "Could not be processed (IntegrityError); kept for a manager.", False
        log.exception("Mail %s could not be processed", envelope.message_id)
    except Refused as refused:
        reason, bounce = refused.reason, refused.bounce
    except IssueError as exc:
        reason, bounce = str(exc), True
    except Exception as exc:
        log.exception("Mail %s could not be processed", envelope.message_id)
        reason, bounce = (
            f"Could not be processed ({type(exc).__name__}); kept for a manager.",
            False,
        )
    # Nothing of the attempt survived the rollback: keep the message, in quarantine.
    with transaction.atomic():
        row, new = _stored(
            envelope,
            target,
            status=MailStatus.QUARANTINED,
            reason=reason[:REASON_LIMIT],
            processed_at=timezone.now(),
        )
    if not new:
        return _quarantine(row.pk, reason, bounce=bounce)
    if bounce:
        _bounce(row)
    return row


def _finish(row: MailMessage) -> None:
    row.processed_at = timezone.now()
    row.save(update_fields=["status", "reason", "issue", "comment", "processed_at", "sender"])


def process_message(pk: int) -> MailMessage:
    """File, comment, ignore or quarantine one stored message, exactly once."""
    try:
        with transaction.atomic():
            row = (
                MailMessage.objects.select_for_update(of=("self",))
                .select_related("project", "address")
                .filter(pk=pk, status=MailStatus.RECEIVED)
                .first()
            )
            if row is None:  # processed already (a repeat, or another worker won)
                return MailMessage.objects.get(pk=pk)
            _handle(row)
            _finish(row)
            return row
    except Refused as refused:
        return _quarantine(pk, refused.reason, bounce=refused.bounce)
    except IssueError as exc:
        return _quarantine(pk, str(exc), bounce=True)
    except Exception as exc:
        log.exception("Mail %s could not be processed", pk)
        return _quarantine(
            pk, f"Could not be processed ({type(exc).__name__}); kept for a manager.", bounce=False
        )


def _handle(row: MailMessage) -> None:
    mail = _read(row)
    if mail is not None:
        _handle_read(row, mail, recent=None)


def _read(row: MailMessage) -> parsing.ParsedMail | None:
    """The parsed message (its sender set on the row), or None for automatic mail (the row
    is marked ignored). Pure Python: a filing batch reads every message before it writes."""
    raw = bytes(row.raw)
    try:
        msg = parsing.parse_message(raw)
    except Exception:
        raise Refused("The message could not be read.", bounce=False) from None
    noise = parsing.noise_reason(
        msg, envelope_from="" if row.envelope_from == "<>" else None, own_from=_own_from()
    )
    if noise:
        row.status, row.reason = MailStatus.IGNORED, noise[:REASON_LIMIT]
        return None
    mail = parsing.read_mail(msg, raw)
    row.sender = mail.sender
    return mail


def _handle_read(row: MailMessage, mail: parsing.ParsedMail, *, recent: int | None) -> None:
    """File, comment or refuse a read message. `recent`: how many messages its sender sent
    within the hour before it, when the caller counted them already (a batch counts them
    for all its messages in one query)."""
    if not mail.sender:
        raise Refused("The message has no readable sender (From).", bounce=False)
    _check_rate(row, recent=_recent_from(row) if recent is None else recent)
    if row.project is None:
        raise Refused("Not addressed to any project address or a valid reply address.")
    if row.project.archived_at is not None:
        raise Refused(f"Project {row.project.key} is archived.")
    token = _reply_token(row)
    if token is not None:
        _comment(row, mail, token)
    else:
        _file(row, mail)


def _rate_window_start() -> datetime:
    return timezone.now() - timedelta(hours=1)


def _recent_from(row: MailMessage) -> int:
    # Those received before this one: the count does not depend on the order in which a
    # batch of stored messages is filed.
    return MailMessage.objects.filter(
        sender=row.sender, received_at__gte=_rate_window_start(), pk__lt=row.pk
    ).count()


def recent_counts(rows: list[MailMessage]) -> dict[int, int]:
    """`_recent_from` for several rows (their senders read already) in one query."""
    rows = [row for row in rows if row.sender and "\x00" not in row.sender]
    if not rows:
        return {}
    if connection.vendor != "postgresql":  # the embedded default: one count a row
        return {row.pk: _recent_from(row) for row in rows}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT v.id, (SELECT count(*) FROM mailin_mailmessage AS m"
            " WHERE m.sender = v.sender AND m.received_at >= %s AND m.id < v.id)"
            " FROM unnest(%s::bigint[], %s::text[]) AS v(id, sender)",
            [_rate_window_start(), [row.pk for row in rows], [row.sender for row in rows]],
        )
        return {int(pk): int(count) for pk, count in cursor.fetchall()}


def _check_rate(row: MailMessage, *, recent: int) -> None:
    limit = settings.MAILIN_SENDER_RATE_PER_HOUR
    if recent >= limit:
        raise Refused(
            f"Rate limit: more than {limit} messages from {row.sender} within an hour.",
            bounce=False,
        )
