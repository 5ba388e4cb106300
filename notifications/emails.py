"""Notification emails: one template set per kind, each message sent under a claim.

A row (Notification or DigestEmail) leaves only after a conditional UPDATE moved it from
"pending" to "sending" (or took over a claim that expired because its sender died). A failed
send puts it back to "pending" for the retry; a sent one records when and its Message-ID,
which names the alert (`<resolve.notification.42@host>`), so nothing is sent twice.
"""

import logging
import smtplib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.db import models, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.actors import Actor
from accounts.timezones import user_zone
from issues.mailthread import issue_thread_id, reply_address
from issues.models import Issue
from workflows.activity import closure_rows
from workflows.selectors import deadline_text

from .models import DigestEmail, EmailStatus, Kind, Notification

log = logging.getLogger(__name__)

# How long a sender owns a claimed row; a killed sender's rows are retried after this.
CLAIM_FOR = timedelta(seconds=getattr(settings, "NOTIFY_EMAIL_CLAIM_SECONDS", 300))
# Give up re-queueing after this many attempts (the row is then marked failed).
MAX_ATTEMPTS = 40


def _claim(model: type[models.Model], pk: int, now: datetime) -> bool:
    claimable = Q(email_status=EmailStatus.PENDING) | Q(
        email_status=EmailStatus.SENDING, email_claimed_until__lt=now
    )
    return (
        model._default_manager.filter(claimable, pk=pk).update(
            email_status=EmailStatus.SENDING,
            email_claimed_until=now + CLAIM_FOR,
            email_attempts=F("email_attempts") + 1,
        )
        == 1
    )


def _sent(model: type[models.Model], pk: int, message_id: str) -> None:
    model._default_manager.filter(pk=pk).update(
        email_status=EmailStatus.SENT,
        email_sent_at=timezone.now(),
        email_claimed_until=None,
        email_error="",
        message_id=message_id,
    )


def _release(model: type[models.Model], pk: int, error: str) -> None:
    model._default_manager.filter(pk=pk, email_status=EmailStatus.SENDING).update(
        email_status=EmailStatus.PENDING, email_claimed_until=None, email_error=error[:300]
    )


def _failed(model: type[models.Model], pk: int, error: str) -> None:
    """A permanent refusal (5xx): shown to staff as failed, never retried."""
    model._default_manager.filter(pk=pk, email_status=EmailStatus.SENDING).update(
        email_status=EmailStatus.FAILED, email_claimed_until=None, email_error=error[:300]
    )


def is_permanent(exc: Exception) -> bool:
    """True for an SMTP 5xx answer (bad mailbox, policy refusal): retrying cannot help."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 500 <= exc.smtp_code < 600
    return False


def _domain() -> str:
    return urlparse(settings.BASE_URL).hostname or "localhost"


def message_id_for(kind: str, pk: int) -> str:
    return f"<resolve.{kind}.{pk}@{_domain()}>"


def absolute(path: str) -> str:
    return f"{settings.BASE_URL}{path}"


def _deadline(note: Notification) -> tuple[datetime | None, str]:
    issue = note.issue
    if issue is None:
        return None, ""
    if note.data.get("checkpoint_kind") == "response_breach":
        return issue.response_due_at, "Response due"
    return issue.resolution_due_at, "Resolution due"


def _render(template: str, context: dict, user: Actor) -> tuple[str, str, str]:
    with timezone.override(user_zone(user)):
        subject = render_to_string(f"emails/{template}-subject.txt", context)
        text = render_to_string(f"emails/{template}-body.txt", context)
        html = render_to_string(f"emails/{template}-body.html", context)
    return _header_safe(subject), text, html


def _header_safe(value: str) -> str:
    """One line, and no RFC 2047 encoded word: the email package decodes `=?utf-8?q?…?=` in a
    header value it is given, and Python < 3.12.5 then writes a decoded CR/LF out raw — a
    title like `=?utf-8?q?x=0D=0ABcc=3A_…?=` would add a Bcc header (CVE-2024-6923)."""
    return " ".join(value.split()).replace("=?", "= ?")


def _message(
    user: Actor,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    alert: str,
    issue_id: int | None = None,
) -> EmailMultiAlternatives:
    headers = {
        "Message-ID": message_id,
        "X-Resolve-Alert": alert,
        "Auto-Submitted": "auto-generated",
    }
    if issue_id is not None:
        # One thread per issue in mail clients, and a reply address that adds a comment.
        thread = issue_thread_id(issue_id)
        headers |= {"In-Reply-To": thread, "References": thread}
        headers["Reply-To"] = reply_address(user_id=user.pk, issue_id=issue_id)
    msg = EmailMultiAlternatives(subject=subject, body=text, to=[user.email], headers=headers)
    msg.attach_alternative(html, "text/html")
    return msg


def _common(user: Actor) -> dict:
    return {
        "recipient": user,
        "base_url": settings.BASE_URL,
        "preferences_url": absolute(reverse("notification_preferences")),
        "inbox_url": absolute(reverse("notification_inbox")),
    }


def build_notification_message(note: Notification) -> EmailMultiAlternatives:
    user = note.recipient
    context = _common(user) | {"note": note, "data": note.data}
    if note.issue is not None:
        issue = note.issue
        deadline, deadline_label = _deadline(note)
        context |= {
            "issue": issue,
            "key": issue.key,
            "issue_url": absolute(issue.get_absolute_url()),
            "deadline": deadline,
            "deadline_label": deadline_label,
            "closure_rows": closure_rows(issue),
            "deadline_text": deadline_text(issue, deadline),
        }
    if note.kind == Kind.DAILY_DIGEST:
        ids = {"at_risk": note.data.get("at_risk", []), "breached": note.data.get("breached", [])}
        found = {
            i.id: i
            for i in Issue.objects.filter(id__in=ids["at_risk"] + ids["breached"]).select_related(
                "project", "owner"
            )
        }
        for name, wanted in ids.items():
            context[name] = [
                {
                    "issue": found[i],
                    "url": absolute(found[i].get_absolute_url()),
                    "left": deadline_text(found[i], found[i].resolution_due_at),
                }
                for i in wanted
                if i in found
            ]
    subject, text, html = _render(note.kind, context, user)
    alert = f"{note.kind}; notification={note.pk}"
    if note.issue is not None:
        alert += f"; issue={note.issue.key}"
    if note.checkpoint_id:
        alert += f"; checkpoint={note.checkpoint_id}; step={note.step}"
    return _message(
        user, subject, text, html, message_id_for("notification", note.pk), alert, note.issue_id
    )


def build_digest_message(digest: DigestEmail) -> EmailMultiAlternatives:
    user = digest.recipient
    notes = list(digest.notifications.select_related("issue__project").order_by("created_at", "id"))
    items = [
        {
            "note": n,
            "url": absolute(n.issue.get_absolute_url()) if n.issue else absolute("/notifications/"),
        }
        for n in notes
    ]
    context = _common(user) | {"digest": digest, "items": items}
    subject, text, html = _render("digest", context, user)
    return _message(
        user,
        subject,
        text,
        html,
        message_id_for("digest", digest.pk),
        f"digest; digest={digest.pk}; notifications={len(notes)}",
    )


def _send_each(
    model: type[models.Model], ids: Sequence[int], build: Callable[[Any], EmailMultiAlternatives]
) -> list[int]:
    """Send each claimable row once over one SMTP connection; return the ids that failed."""
    now = timezone.now()
    connection = mailers.default
    opened = False
    for position, pk in enumerate(ids):
        if not _claim(model, pk, now):
            continue  # sent already, or another sender holds it
        try:
            row = model._default_manager.select_related(*_related(model)).get(pk=pk)
            msg = build(row)
            if not opened:
                connection.open()
                opened = True
            connection.send_messages([msg])
        except Exception as exc:
            if is_permanent(exc):
                log.error("Email %s %s refused for good: %s", model.__name__, pk, exc)
                _failed(model, pk, f"{type(exc).__name__}: {exc}")
                continue  # the server works; the other messages still go out
            log.warning("Email %s %s failed: %s", model.__name__, pk, exc)
            _release(model, pk, f"{type(exc).__name__}: {exc}")
            # The server is likely down: keep the rest for the retry instead of timing out
            # on each of them now.
            return [pk, *ids[position + 1 :]]
        _sent(model, pk, msg.extra_headers["Message-ID"])
    if opened:
        try:
            connection.close()
        except Exception:  # the messages are sent; a failing QUIT changes nothing
            log.warning("Closing the SMTP connection failed", exc_info=True)
    return []


def _related(model: type[models.Model]) -> tuple[str, ...]:
    if model is Notification:
        return ("recipient", "issue__project", "issue__owner", "checkpoint")
    return ("recipient",)


def send_notification_emails(ids: Sequence[int]) -> list[int]:
    return _send_each(Notification, list(ids), build_notification_message)


def send_digest_emails(ids: Sequence[int]) -> list[int]:
    return _send_each(DigestEmail, list(ids), build_digest_message)


def unsent(model: type[models.Model], *, older_than: timedelta) -> list[int]:
    """Rows whose email should have left by now (their task was lost or gave up)."""
    now = timezone.now()
    stale = Q(email_status=EmailStatus.PENDING) | Q(
        email_status=EmailStatus.SENDING, email_claimed_until__lt=now
    )
    qs = model._default_manager.filter(stale, created_at__lte=now - older_than)
    qs.filter(email_attempts__gte=MAX_ATTEMPTS).update(email_status=EmailStatus.FAILED)
    return list(qs.filter(email_attempts__lt=MAX_ATTEMPTS).values_list("pk", flat=True)[:5000])


def batch_digest_emails(*, now: datetime | None = None) -> list[int]:
    """Gather each user's notifications set to "digest" into one DigestEmail (once per run)."""
    now = now or timezone.now()
    key = now.strftime("%Y-%m-%dT%H:%M")
    user_ids = set(
        Notification.objects.filter(
            email_status=EmailStatus.BATCHED, digest__isnull=True
        ).values_list("recipient_id", flat=True)
    )
    created = []
    for uid in sorted(user_ids):
        with transaction.atomic():
            digest, _ = DigestEmail.objects.get_or_create(
                recipient_id=uid, batch_key=key, defaults={"email_status": EmailStatus.PENDING}
            )
            ids = list(
                Notification.objects.filter(
                    recipient_id=uid, email_status=EmailStatus.BATCHED, digest__isnull=True
                )
                .select_for_update(skip_locked=True)
                .values_list("id", flat=True)
            )
            Notification.objects.filter(id__in=ids, digest__isnull=True).update(digest=digest)
            if not digest.notifications.exists():
                DigestEmail.objects.filter(pk=digest.pk, email_status=EmailStatus.PENDING).update(
                    email_status=EmailStatus.NONE
                )
                continue
            created.append(digest.pk)
    return created
