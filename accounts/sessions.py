"""The database session store, reading the session with one statement compiled once.

Every page loads its session first; Django's store builds and compiles
`Session.objects.get(session_key=…, expire_date__gt=now)` for each request. Here the same
read is an `accounts.compiled.CompiledRead`: the same statement and rows, written once per
process. Storage, cookies, expiry and saving are Django's `db` store unchanged
(`SESSION_ENGINE = "accounts.sessions"`), so existing sessions stay valid.
"""

import logging

from django.contrib.sessions.backends.db import SessionStore as _DatabaseStore
from django.contrib.sessions.models import Session
from django.core.exceptions import SuspiciousOperation
from django.utils import timezone

from .compiled import CompiledRead

_LIVE_SESSION: CompiledRead[Session] = CompiledRead(
    lambda key, now: Session.objects.filter(session_key=key, expire_date__gt=now)[:1]
)


class SessionStore(_DatabaseStore):
    def _get_session_from_db(self) -> Session | None:
        if self.get_model_class() is not Session:  # a subclass with its own model
            return super()._get_session_from_db()  # type: ignore[misc]
        try:
            found = _LIVE_SESSION.first(str(self.session_key), timezone.now())
        except SuspiciousOperation as e:
            logger = logging.getLogger(f"django.security.{e.__class__.__name__}")
            logger.warning(str(e))
            found = None
        if found is None:
            self._session_key = None
        return found
