"""A message that is not a reply files an issue through workflows' `create_issue`, the same
use case as the web form (notifications, SLA clock, auto-assignment)."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction

from workflows.issue_use_cases import create_issue

from .. import parsing
from ..models import AcceptFrom, MailAddress, MailMessage, MailStatus
from .addresses import mail_settings_of
from .common import SIGNATURE, TITLE_LIMIT, Refused, looked_up, looked_up_already, prime_lookup


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


# `_reporter`'s member lookup for several senders of one project at once: the same
# condition (Django's `iexact` is `UPPER(…) = UPPER(…)` on PostgreSQL), the first by id.
_MEMBERS_SQL = (
    "SELECT s.sender, (SELECT u.id FROM accounts_user AS u"
    " JOIN projects_membership AS m ON m.user_id = u.id"
    " WHERE UPPER(u.email::text) = UPPER(s.sender) AND u.is_active AND m.project_id = %s"
    " ORDER BY u.id LIMIT 1) FROM unnest(%s::text[]) AS s(sender)"
)


def prime_people(
    wanted: list[tuple[MailMessage, parsing.ParsedMail, int | None, bool]],
) -> None:
    """Look up, in a query per project and one for the accounts, the people a chunk of
    messages would ask for one at a time — the sending member of each new issue
    (`_reporter`), the user of each reply token (`replies._comment`) — into the batch's
    lookups. `wanted`: (row, its mail, its reply token's user, whether it is a reply)."""
    if connection.vendor != "postgresql":
        return
    members: dict[int, set[str]] = {}
    user_ids: set[int] = set()
    for row, mail, user_id, reply in wanted:
        if reply:
            if user_id is not None and not looked_up_already(("user", user_id)):
                user_ids.add(user_id)
        elif row.project_id is not None and mail.sender and "\x00" not in mail.sender:
            if not looked_up_already(("member", row.project_id, mail.sender)):
                members.setdefault(row.project_id, set()).add(mail.sender)
    member_ids: dict[tuple[int, str], int | None] = {}
    with connection.cursor() as cursor:
        for project_id, senders in members.items():
            cursor.execute(_MEMBERS_SQL, [project_id, sorted(senders)])
            for sender, user_id in cursor.fetchall():
                member_ids[(project_id, sender)] = user_id
    ids = user_ids | {pk for pk in member_ids.values() if pk is not None}
    users = get_user_model().objects.filter(is_active=True).in_bulk(ids) if ids else {}
    for (project_id, sender), user_id in member_ids.items():
        prime_lookup(("member", project_id, sender), users.get(user_id) if user_id else None)
    for user_id in user_ids:
        prime_lookup(("user", user_id), users.get(user_id))


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
    try:
        with transaction.atomic():  # another filer may be making the same contact right now
            contact.save()
    except IntegrityError:  # it committed first (the unique index waited for it): use it
        made = User.objects.filter(username=contact.username).first()
        if made is None:
            raise
        return made
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
