"""A message that is not a reply files an issue through workflows' `create_issue`, the same
use case as the web form (notifications, SLA clock, auto-assignment)."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from workflows.issue_use_cases import create_issue

from .. import parsing
from ..models import AcceptFrom, MailAddress, MailMessage, MailStatus
from .addresses import mail_settings_of
from .common import SIGNATURE, TITLE_LIMIT, Refused, looked_up


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


def _reporter(row: MailMessage, mail: parsing.ParsedMail):
    """The filing person: an active member; with "anyone", any account or a new contact."""
    project = row.project
    if project is None:
        raise Refused("Not addressed to any project address.")
    users = get_user_model().objects.filter(email__iexact=mail.sender, is_active=True)
    member = looked_up(
        ("member", project.pk, mail.sender),
        lambda: users.filter(memberships__project=project).order_by("pk").first(),
    )
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
