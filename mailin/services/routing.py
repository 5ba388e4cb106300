"""Step 1: which projects a message is for, and storing it once per project (keyed on the
Message-ID) before any transport acknowledges it."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from issues.mailthread import read_reply_token, reply_token_in
from issues.models import Issue
from projects.models import Project

from .. import parsing
from ..models import MailAddress, MailMessage
from .common import SUBJECT_LIMIT

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Target:
    project: Project | None
    address: MailAddress | None


def _targets(recipients: list[str]) -> list[_Target]:
    """The projects a message is for: project addresses, and the issue's project of a reply
    address. Unknown recipients are dropped; nothing known gives one target without a
    project (quarantined, visible to staff in the admin)."""
    return _targets_of_many([recipients])[0]


def _targets_of_many(recipient_lists: list[list[str]]) -> list[list[_Target]]:
    """`_targets` for several messages in two queries (the SMTP receiver's group commit)."""
    lowered = [[r.strip().lower() for r in rs if r and "@" in r] for rs in recipient_lists]
    every = {r for rs in lowered for r in rs}
    addresses = {
        row.address: row
        for row in MailAddress.objects.filter(address__in=every).select_related("project")
    }
    replies: dict[str, int] = {}
    for recipient in every:
        token = reply_token_in(recipient)
        parsed = read_reply_token(token) if token is not None else None
        if parsed is not None:
            replies[recipient] = parsed[0]
    issues = (
        Issue.objects.select_related("project").in_bulk(set(replies.values())) if replies else {}
    )
    result = []
    for rs in lowered:
        found: dict[int, _Target] = {}
        for recipient in rs:  # project addresses first, as the recipients list them
            if recipient in addresses:
                row = addresses[recipient]
                found.setdefault(row.project_id, _Target(row.project, row))
        for recipient in rs:
            issue = issues.get(replies.get(recipient, 0))
            if issue is not None:
                found.setdefault(issue.project_id, _Target(issue.project, None))
        result.append(list(found.values()) or [_Target(None, None)])
    return result


def is_known_recipient(address: str) -> bool:
    """For the SMTP receiver's RCPT check: a project address or a reply address."""
    address = address.strip().lower()
    if reply_token_in(address) is not None:
        return True
    return MailAddress.objects.filter(address=address).exists()


def _fingerprint(project: Project | None, message_id: str) -> str:
    return hashlib.sha256(f"{project.pk if project else 0}\n{message_id}".encode()).hexdigest()


@dataclass
class _Envelope:
    message_id: str
    targets: list[_Target]
    fields: dict


@dataclass
class Received:
    """A message as the SMTP receiver reads it before storing: headers only, no database."""

    message_id: str
    wanted: list[str]
    fields: dict


def read_received(
    raw: bytes, *, transport: str, envelope_from: str | None, recipients: list[str] | None
) -> Received:
    """Route a message from its headers alone (the full parse happens when it is filed)."""
    try:
        msg = parsing.parse_headers(raw)
        message_id = parsing.message_id_of(msg, raw)
        sender, _ = parsing.sender_of(msg)
        subject = parsing.clean_title(parsing._header(msg, "Subject"), limit=SUBJECT_LIMIT)
        header_recipients = parsing.addresses(msg, *parsing.RECIPIENT_HEADERS)
    except Exception:  # unparseable: kept and quarantined rather than lost
        log.warning("Unreadable message stored for quarantine", exc_info=True)
        message_id = f"<sha256.{hashlib.sha256(raw).hexdigest()}@resolve.invalid>"
        sender = subject = ""
        header_recipients = []
    message_id = message_id.replace("\x00", "")  # PostgreSQL text holds no NUL
    wanted = [r.replace("\x00", "") for r in (recipients if recipients else header_recipients)]
    fields = {
        "message_id": message_id,
        "transport": transport,
        "sender": sender.replace("\x00", ""),
        # "<>" records a null return path (SMTP's MAIL FROM:<>), "" an unknown one.
        "envelope_from": "<>" if envelope_from == "" else (envelope_from or "")[:254],
        "recipients": "\n".join(wanted)[:5000],
        "subject": subject,
        "raw": raw,
        "size": len(raw),
    }
    return Received(message_id, wanted, fields)


def _envelope(
    raw: bytes, *, transport: str, envelope_from: str | None, recipients: list[str] | None
) -> _Envelope:
    received = read_received(
        raw, transport=transport, envelope_from=envelope_from, recipients=recipients
    )
    return _Envelope(received.message_id, _targets(received.wanted), received.fields)


def store_received(messages: list[Received]) -> list[list[int]]:
    """Store several messages in one transaction, once per project each is for: one
    `INSERT … ON CONFLICT DO NOTHING` (a message seen before, or stored by another receiver
    a moment ago, is recognised by its fingerprint), then the ids of every row, new or not.
    Returns, per message, the ids of its rows; they are committed when this returns."""
    with transaction.atomic():  # one commit for the lookups and the insert
        return _store_received(messages)


def _store_received(messages: list[Received]) -> list[list[int]]:
    targets = _targets_of_many([m.wanted for m in messages])
    wanted: list[list[str]] = []
    rows: dict[str, MailMessage] = {}
    for message, its_targets in zip(messages, targets, strict=True):
        prints = []
        for target in its_targets:
            fingerprint = _fingerprint(target.project, message.message_id)
            prints.append(fingerprint)
            rows.setdefault(
                fingerprint,
                MailMessage(
                    fingerprint=fingerprint,
                    project=target.project,
                    address=target.address,
                    **message.fields,
                ),
            )
        wanted.append(prints)
    MailMessage.objects.bulk_create(rows.values(), ignore_conflicts=True)
    ids = dict(MailMessage.objects.filter(fingerprint__in=rows).values_list("fingerprint", "pk"))
    return [[ids[f] for f in prints] for prints in wanted]


def _stored(envelope: _Envelope, target: _Target, **extra) -> tuple[MailMessage, bool]:
    """The row of this message for this project, inserted when new (in the caller's
    transaction; a concurrent insert of the same message raises IntegrityError)."""
    fingerprint = _fingerprint(target.project, envelope.message_id)
    row = (
        MailMessage.objects.select_for_update(of=("self",))
        .select_related("project", "address")
        .filter(fingerprint=fingerprint)
        .first()
    )
    if row is not None:
        return row, False
    row = MailMessage.objects.create(
        fingerprint=fingerprint,
        project=target.project,
        address=target.address,
        **envelope.fields,
        **extra,
    )
    return row, True


def receive_message(
    raw: bytes,
    *,
    transport: str,
    envelope_from: str | None = None,
    recipients: list[str] | None = None,
) -> list[MailMessage]:
    """Store the message once per project it is for and commit, without processing it
    (`process_message` or the catch-up does). `envelope_from` is SMTP's MAIL FROM ("" for a
    null return path, None when unknown); `recipients` the envelope's RCPT TO (the headers
    are read when None)."""
    envelope = _envelope(
        raw, transport=transport, envelope_from=envelope_from, recipients=recipients
    )
    rows = []
    for target in envelope.targets:
        try:
            with transaction.atomic():
                rows.append(_stored(envelope, target)[0])
        except IntegrityError:  # another receiver stored it a moment ago
            rows.append(
                MailMessage.objects.get(
                    fingerprint=_fingerprint(target.project, envelope.message_id)
                )
            )
    return rows
