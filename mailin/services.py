"""Mail in: a message becomes an issue or a comment through the same services as the web form.

`ingest(raw, transport=…)` is what every transport calls (SMTP/LMTP receiver, IMAP poller,
drop folder, benchmark):

1. The raw message is stored once per project it is addressed to, keyed on the
   Message-ID (a repeat is recognised and not stored or filed again), and
2. in the same transaction it either files an issue (`issues.services.create_issue`: notifications, SLA clock and
   auto-assignment as for the form), adds a comment (`issues.services.add_comment`) for a
   reply carrying a genuine reply token, ignores automatic mail, or puts the message in the
   project's quarantine with the reason. Nothing half-done survives a failure: the
   transaction rolls back and the message is stored in quarantine with the reason instead.
   Only after the commit does the transport acknowledge (SMTP 250, IMAP flag/move, drop
   file moved away), so a crash before it loses nothing: the message is handed over again.
   (`receive_message` + `process_message` split the two steps; the catch-up task processes
   rows stored that way and left unprocessed.)
3. A refused message from a person (not automatic mail) gets at most one polite bounce per
   sender per MAILIN_BOUNCE_EVERY_HOURS.

Managers release a quarantined message into an issue (`release_message`) or discard it.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.mail import EmailMessage as OutgoingEmail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from issues.mailthread import read_reply_token, reply_mailbox, reply_token_in
from issues.models import Issue, IssueType, Priority, Severity
from issues.selectors import issues_visible_to
from issues.services import IssueError, add_comment
from projects.models import Project
from projects.selectors import is_manager
from workflows.issue_use_cases import create_issue

from . import parsing
from .models import AcceptFrom, MailAddress, MailMessage, MailSettings, MailStatus

log = logging.getLogger(__name__)

TITLE_LIMIT = Issue._meta.get_field("title").max_length or 200
SUBJECT_LIMIT = MailMessage._meta.get_field("subject").max_length or 300
REASON_LIMIT = MailMessage._meta.get_field("reason").max_length or 300
SIGNATURE = re.compile(r"\n-- ?\n.*\Z", re.DOTALL)


class MailInError(Exception):
    """A refused settings change or quarantine action; the message is shown to the user."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class Refused(Exception):
    """The message goes to quarantine with this reason (and a bounce when `bounce`)."""

    def __init__(self, reason: str, *, bounce: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.bounce = bounce


# --- settings (Managers) -------------------------------------------------------------------
def _require_manager(project: Project, actor) -> None:
    if not is_manager(actor, project):
        raise MailInError("Only the project's managers can change its mail settings.")


def _own_from() -> str:
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower()


def normalise_address(value: str) -> str:
    address = value.strip().lower()
    try:
        validate_email(address)
    except ValidationError:
        raise MailInError("Enter a valid e-mail address.", field="address") from None
    return address


def add_mail_address(
    project: Project,
    *,
    actor,
    address: str,
    type: str = IssueType.BUG,
    priority: int = Priority.MEDIUM,
    severity: int = Severity.MINOR,
) -> MailAddress:
    """Give the project an inbound address (plus-addressing such as resolve+web@… included)."""
    _require_manager(project, actor)
    address = normalise_address(address)
    reply_local, reply_domain = reply_mailbox()
    local, _, domain = address.rpartition("@")
    if domain == reply_domain and local.partition("+")[0] == reply_local:
        raise MailInError("That is Resolve's reply address; choose another.", field="address")
    if address == _own_from():
        raise MailInError("That is the address Resolve sends from.", field="address")
    existing = MailAddress.objects.filter(address=address).select_related("project").first()
    if existing is not None:
        where = "this project" if existing.project_id == project.pk else "another project"
        raise MailInError(f"{address} is already used by {where}.", field="address")
    try:
        with transaction.atomic():
            return MailAddress.objects.create(
                project=project,
                address=address,
                type=type,
                priority=priority,
                severity=severity,
                created_by=actor,
            )
    except IntegrityError:
        raise MailInError(f"{address} is already used.", field="address") from None


def update_mail_address(
    mail_address: MailAddress, *, actor, type: str, priority: int, severity: int
) -> MailAddress:
    _require_manager(mail_address.project, actor)
    mail_address.type, mail_address.priority, mail_address.severity = type, priority, severity
    mail_address.save(update_fields=["type", "priority", "severity"])
    return mail_address


def remove_mail_address(mail_address: MailAddress, *, actor) -> None:
    _require_manager(mail_address.project, actor)
    mail_address.delete()


def mail_settings_of(project: Project) -> MailSettings:
    return MailSettings.objects.filter(project=project).first() or MailSettings(project=project)


def set_accept_from(project: Project, *, actor, accept_from: str) -> MailSettings:
    _require_manager(project, actor)
    if accept_from not in AcceptFrom.values:
        raise MailInError("Choose who may file by e-mail.", field="accept_from")
    row, _ = MailSettings.objects.update_or_create(
        project=project, defaults={"accept_from": accept_from}
    )
    return row


# --- 1. store ------------------------------------------------------------------------------
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


# --- 2. process ----------------------------------------------------------------------------
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
        return
    mail = parsing.read_mail(msg, raw)
    row.sender = mail.sender
    if not mail.sender:
        raise Refused("The message has no readable sender (From).", bounce=False)
    _check_rate(row)
    if row.project is None:
        raise Refused("Not addressed to any project address or a valid reply address.")
    if row.project.archived_at is not None:
        raise Refused(f"Project {row.project.key} is archived.")
    token = _reply_token(row)
    if token is not None:
        _comment(row, mail, token)
    else:
        _file(row, mail)


def _check_rate(row: MailMessage) -> None:
    since = timezone.now() - timedelta(hours=1)
    recent = (
        MailMessage.objects.filter(sender=row.sender, received_at__gte=since)
        .exclude(pk=row.pk)
        .count()
    )
    limit = settings.MAILIN_SENDER_RATE_PER_HOUR
    if recent >= limit:
        raise Refused(
            f"Rate limit: more than {limit} messages from {row.sender} within an hour.",
            bounce=False,
        )


def _reply_token(row: MailMessage) -> str | None:
    for recipient in row.recipients.split("\n"):
        token = reply_token_in(recipient)
        if token is not None:
            return token
    return None


def _uploads(mail: parsing.ParsedMail, *, skip_oversized: bool) -> tuple[list, list[str]]:
    limit = settings.ATTACHMENT_MAX_BYTES
    uploads, skipped = [], []
    for part in mail.attachments:
        if len(part.content) > limit:
            if skip_oversized:
                skipped.append(part.filename)
                continue
            raise Refused(
                f"The attachment “{part.filename[:80]}” is {len(part.content) / 1048576:.1f} MB; "
                f"files may be at most {limit / 1048576:.0f} MB."
            )
        uploads.append(
            SimpleUploadedFile(part.filename or "attachment", part.content, part.content_type)
        )
    return uploads, skipped


def _comment(row: MailMessage, mail: parsing.ParsedMail, token: str) -> None:
    parsed = read_reply_token(token)
    if parsed is None:
        raise Refused("The reply address is not valid (its token does not check out).")
    issue_id, user_id = parsed
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise Refused("The reply address belongs to an account that is no longer active.")
    if mail.sender != (user.email or "").strip().lower():
        raise Refused(
            f"Sent from {mail.sender}, but this reply address belongs to another person.",
            bounce=False,
        )
    issue = issues_visible_to(user).select_related("project").filter(pk=issue_id).first()
    if issue is None or issue.project_id != row.project_id:
        raise Refused("You can no longer see this issue, so the reply was not added.")
    body = parsing.reply_text(mail.text)
    uploads, _ = _uploads(mail, skip_oversized=False)
    if not body and not uploads:
        raise Refused("The reply had no text (only quoted history or a signature).")
    comment = add_comment(issue, author=user, body=body, attachments=uploads)
    row.status, row.issue, row.comment, row.reason = MailStatus.COMMENTED, issue, comment, ""


def _reporter(row: MailMessage, mail: parsing.ParsedMail):
    """The filing person: an active member; with "anyone", any account or a new contact."""
    project = row.project
    if project is None:
        raise Refused("Not addressed to any project address.")
    users = get_user_model().objects.filter(email__iexact=mail.sender, is_active=True)
    member = users.filter(memberships__project=project).order_by("pk").first()
    if member is not None:
        return member
    if mail_settings_of(project).accept_from != AcceptFrom.ANYONE:
        raise Refused(f"{mail.sender} is not a member of project {project.key}.")
    return users.order_by("pk").first() or _contact(mail)


def _contact(mail: parsing.ParsedMail):
    """A reporter contact for a sender without an account: no password, not active (cannot
    log in, receives nothing), named after the address."""
    User = get_user_model()
    existing = User.objects.filter(email__iexact=mail.sender).order_by("pk").first()
    if existing is not None:
        return existing
    digest = hashlib.sha256(mail.sender.encode()).hexdigest()[:10]
    contact = User(
        username=f"contact-{digest}",
        email=mail.sender,
        is_active=False,
        display_name=(mail.sender_name or mail.sender)[:150],
    )
    contact.set_unusable_password()
    contact.save()
    return contact


def _description(mail: parsing.ParsedMail, skipped: list[str]) -> str:
    text = SIGNATURE.sub("", "\n" + mail.text).strip()
    if skipped:
        limit = settings.ATTACHMENT_MAX_BYTES / 1048576
        text += f"\n\n_Not attached (over the {limit:.0f} MB limit): {', '.join(skipped)}_"
    return text


def _file(row: MailMessage, mail: parsing.ParsedMail, *, reporter=None, release=False) -> None:
    project = row.project
    if project is None:
        raise Refused("Not addressed to any project address.")
    reporter = reporter or _reporter(row, mail)
    uploads, skipped = _uploads(mail, skip_oversized=release)
    title = parsing.clean_title(mail.subject, limit=TITLE_LIMIT)
    description = _description(mail, skipped)
    if not title:
        first_line = next((line for line in description.splitlines() if line.strip()), "")
        title = parsing.clean_title(first_line.lstrip("#>*- "), limit=TITLE_LIMIT)
    if not title and not uploads:
        raise Refused("The message had no subject and no text.")
    defaults = row.address or MailAddress()
    issue = create_issue(
        project,
        reporter=reporter,
        title=title or "(no subject)",
        description=description,
        type=defaults.type,
        priority=defaults.priority,
        severity=defaults.severity,
        attachments=uploads,
        source=f"e-mail from {mail.sender}" + (" (released from quarantine)" if release else ""),
    )
    row.status, row.issue, row.reason = MailStatus.FILED, issue, ""


# --- quarantine ---------------------------------------------------------------------------
def _quarantine(pk: int, reason: str, *, bounce: bool) -> MailMessage:
    with transaction.atomic():
        MailMessage.objects.filter(pk=pk, status=MailStatus.RECEIVED).update(
            status=MailStatus.QUARANTINED, reason=reason[:REASON_LIMIT], processed_at=timezone.now()
        )
        row = MailMessage.objects.select_related("project").get(pk=pk)
    if bounce and row.status == MailStatus.QUARANTINED:
        _bounce(row)
    return row


def _bounce(row: MailMessage) -> None:
    """At most one polite bounce per sender per MAILIN_BOUNCE_EVERY_HOURS, never to automatic
    mail (the caller only bounces mail `noise_reason` let through) nor to a null return path."""
    to = (row.envelope_from if row.envelope_from != "<>" else "") or row.sender
    to = to.strip().lower()
    if not to or "@" not in to or to == _own_from():
        return
    since = timezone.now() - timedelta(hours=settings.MAILIN_BOUNCE_EVERY_HOURS)
    with transaction.atomic():
        if MailMessage.objects.filter(sender=row.sender, bounced_at__gte=since).exists():
            return
        claimed = MailMessage.objects.filter(pk=row.pk, bounced_at=None).update(
            bounced_at=timezone.now()
        )
    if not claimed:
        return
    context = {"row": row, "reason": row.reason, "project": row.project}
    subject = " ".join(render_to_string("emails/mailin_bounce-subject.txt", context).split())
    email = OutgoingEmail(
        subject=subject.replace("=?", "= ?"),
        body=render_to_string("emails/mailin_bounce-body.txt", context),
        to=[to],
        headers={
            "Auto-Submitted": "auto-replied",
            "X-Auto-Response-Suppress": "All",
            "X-Resolve-Alert": f"mail-in bounce; message={row.pk}",
            "In-Reply-To": row.message_id,
            "References": row.message_id,
        },
    )
    try:
        email.send()
    except Exception:  # the quarantine entry stands; a lost courtesy note is only logged
        log.warning("Bounce for mail %s could not be sent", row.pk, exc_info=True)


def _quarantined(row: MailMessage, *, actor) -> None:
    if row.project is None or not is_manager(actor, row.project):
        raise MailInError("Only the project's managers can handle its quarantine.")


def release_message(row: MailMessage, *, actor) -> MailMessage:
    """File a quarantined message as an issue: the sender's account when they have an active
    one (even outside the project), otherwise the releasing manager reports it. Attachments
    over the size limit are left out and named in the description."""
    _quarantined(row, actor=actor)
    with transaction.atomic():
        locked = (
            MailMessage.objects.select_for_update(of=("self",))
            .select_related("project", "address")
            .filter(pk=row.pk, status=MailStatus.QUARANTINED)
            .first()
        )
        if locked is None:
            raise MailInError("This message was already handled.")
        if locked.project is None or locked.project.archived_at is not None:
            raise MailInError("The project is archived; the message cannot be filed.")
        try:
            mail = parsing.read_mail(parsing.parse_message(bytes(locked.raw)), bytes(locked.raw))
        except Exception:
            raise MailInError("The message cannot be read; discard it.") from None
        sender = (
            get_user_model()
            .objects.filter(email__iexact=mail.sender, is_active=True)
            .order_by("pk")
            .first()
        )
        try:
            _file(locked, mail, reporter=sender or actor, release=True)
        except Refused as refused:
            raise MailInError(refused.reason) from None
        except IssueError as exc:
            raise MailInError(str(exc)) from None
        locked.handled_by, locked.processed_at = actor, timezone.now()
        locked.save(update_fields=["status", "issue", "reason", "handled_by", "processed_at"])
    return locked


def discard_message(row: MailMessage, *, actor) -> MailMessage:
    """Drop a quarantined message for good (the raw bytes are deleted, the row stays so the
    same Message-ID is not filed if it arrives again)."""
    _quarantined(row, actor=actor)
    updated = MailMessage.objects.filter(pk=row.pk, status=MailStatus.QUARANTINED).update(
        status=MailStatus.DISCARDED, raw=b"", handled_by=actor, processed_at=timezone.now()
    )
    if not updated:
        raise MailInError("This message was already handled.")
    row.refresh_from_db()
    return row


def process_pending_mail(*, older_than: timedelta = timedelta(minutes=2)) -> int:
    """Process rows a crash left stored but unprocessed (the catch-up beat task)."""
    cutoff = timezone.now() - older_than
    ids = list(
        MailMessage.objects.filter(status=MailStatus.RECEIVED, received_at__lte=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:1000]
    )
    for pk in ids:
        process_message(pk)
    return len(ids)
