"""A reply to a notification (to `reply+<token>@…`) becomes a comment by the token's user,
through `issues.services.add_comment`."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from issues.mailthread import read_reply_token, reply_token_in
from issues.selectors import issues_visible_to
from issues.services import add_comment

from .. import parsing
from ..models import MailMessage, MailStatus
from .common import Refused, looked_up
from .filing import _uploads


def _reply_token(row: MailMessage) -> str | None:
    for recipient in row.recipients.split("\n"):
        token = reply_token_in(recipient)
        if token is not None:
            return token
    return None


def _comment(row: MailMessage, mail: parsing.ParsedMail, token: str) -> None:
    parsed = read_reply_token(token)
    if parsed is None:
        raise Refused("The reply address is not valid (its token does not check out).")
    issue_id, user_id = parsed
    user = looked_up(
        ("user", user_id),
        lambda: get_user_model().objects.filter(pk=user_id, is_active=True).first(),
    )
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
