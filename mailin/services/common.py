"""What every part of mail in shares: the two refusals and the field limits."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from email.utils import parseaddr
from typing import Any

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


# Lookups a filing batch repeats for every message (the sender's membership, a reply
# token's user): asked once per batch. Only rows that exist before the batch and that it
# does not write are kept, so a message rolled back to its savepoint leaves nothing stale.
_batch_lookups: ContextVar[dict[Any, Any] | None] = ContextVar("mailin_batch_lookups", default=None)


@contextmanager
def batch_lookups() -> Iterator[None]:
    """Within this block (one filing batch), `looked_up` asks the database once per key."""
    token = _batch_lookups.set({})
    try:
        yield
    finally:
        _batch_lookups.reset(token)


def looked_up(key: Any, find: Callable[[], Any]) -> Any:
    """`find()`, remembered for the batch under `key` (outside a batch: asked every time)."""
    cache = _batch_lookups.get()
    if cache is None:
        return find()
    if key not in cache:
        cache[key] = find()
    return cache[key]


def prime_lookup(key: Any, value: Any) -> None:
    """Remember `value` under `key` for the batch, when it has not been asked yet (a batch
    that looked several up in one query); nothing outside a batch."""
    cache = _batch_lookups.get()
    if cache is not None:
        cache.setdefault(key, value)


def looked_up_already(key: Any) -> bool:
    cache = _batch_lookups.get()
    return cache is not None and key in cache
