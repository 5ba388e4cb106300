"""Refused mail: the quarantine (with at most one polite bounce per sender), and what Managers
do with it: release into an issue or discard."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage as OutgoingEmail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from issues.services import IssueError
from projects.selectors import is_manager

from .. import parsing
from ..models import MailMessage, MailStatus
from .common import REASON_LIMIT, MailInError, Refused, _own_from
from .filing import _file

log = logging.getLogger(__name__)


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
