"""What every part of mail in shares: the two refusals and the field limits."""

from __future__ import annotations

import re
from email.utils import parseaddr

from django.conf import settings

from issues.models import Issue
from mailin.models import MailMessage

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


def _own_from() -> str:
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower()
