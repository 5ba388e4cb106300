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
    lowered = [r.strip().lower() for r in recipients if r and "@" in r]
    found: dict[int, _Target] = {}
    for row in MailAddress.objects.filter(address__in=lowered).select_related("project"):
        found.setdefault(row.project_id, _Target(row.project, row))
    for recipient in lowered:
        token = reply_token_in(recipient)
        parsed = read_reply_token(token) if token is not None else None
        if parsed is None:
            continue
        issue = Issue.objects.filter(pk=parsed[0]).select_related("project").first()
        if issue is not None:
            found.setdefault(issue.project_id, _Target(issue.project, None))
    return list(found.values()) or [_Target(None, None)]


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


def _envelope(
    raw: bytes, *, transport: str, envelope_from: str | None, recipients: list[str] | None
) -> _Envelope:
    try:
        msg = parsing.parse_message(raw)
        message_id = parsing.message_id_of(msg, raw)
        sender, _ = parsing.sender_of(msg)
        subject = parsing.clean_title(parsing._header(msg, "Subject"), limit=SUBJECT_LIMIT)
        header_recipients = parsing.addresses(msg, *parsing.RECIPIENT_HEADERS)
    except Exception:  # unparseable: kept and quarantined rather than lost
        log.warning("Unreadable message stored for quarantine", exc_info=True)
        message_id = f"<sha256.{hashlib.sha256(raw).hexdigest()}@resolve.invalid>"
        sender = subject = ""
        header_recipients = []
    wanted = recipients if recipients else header_recipients
    fields = {
        "message_id": message_id,
        "transport": transport,
        "sender": sender,
        # "<>" records a null return path (SMTP's MAIL FROM:<>), "" an unknown one.
        "envelope_from": "<>" if envelope_from == "" else (envelope_from or "")[:254],
        "recipients": "\n".join(wanted)[:5000],
        "subject": subject,
        "raw": raw,
        "size": len(raw),
    }
    return _Envelope(message_id, _targets(wanted), fields)


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
