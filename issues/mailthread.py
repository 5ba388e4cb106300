"""What ties an e-mail to an issue: its thread id and the signed reply address.

Every notification about an issue names the issue's thread (`In-Reply-To`/`References:
<resolve.issue.42@host>`) so mail clients show one thread per issue, and carries a reply
address `reply+<token>@host` whose token names the issue and the recipient, signed with
Django's signing (SECRET_KEY, with SECRET_KEY_FALLBACKS honoured). The mail-in app reads the
token back; neither side needs a table. The signature is base32 (letters and digits, one
case) because some mail systems lower-case local parts.
"""

import base64
import re
from urllib.parse import urlparse

from django.conf import settings
from django.core import signing
from django.utils.crypto import salted_hmac

REPLY_SALT = "resolve.mail.reply-token"
# `<issue id>.<user id>.<signature>`: dots and lower-case base32 only, safe in a local part.
TOKEN_RE = re.compile(r"^(?P<value>\d{1,12}\.\d{1,12})\.(?P<sig>[a-z2-7]{32})$")


class _ReplySigner(signing.Signer):
    def signature(self, value, key=None):
        digest = salted_hmac(
            self.salt + "signer", value, key or self.key, algorithm=self.algorithm
        ).digest()
        return base64.b32encode(digest[:20]).decode().lower()


def _signer() -> _ReplySigner:
    return _ReplySigner(sep=".", salt=REPLY_SALT, algorithm="sha256")


def mail_domain() -> str:
    return urlparse(settings.BASE_URL).hostname or "localhost"


def issue_thread_id(issue_id: int) -> str:
    """The Message-ID every e-mail about the issue refers to (the thread's root)."""
    return f"<resolve.issue.{issue_id}@{mail_domain()}>"


def reply_token(*, user_id: int, issue_id: int) -> str:
    return _signer().sign(f"{issue_id}.{user_id}")


def read_reply_token(token: str) -> tuple[int, int] | None:
    """(issue id, user id) of a genuine token, None for anything else."""
    token = token.strip().lower()
    if not TOKEN_RE.match(token):
        return None
    try:
        value = _signer().unsign(token)
    except signing.BadSignature:
        return None
    issue_id, user_id = value.split(".")
    return int(issue_id), int(user_id)


def reply_mailbox() -> tuple[str, str]:
    """(local part, domain) of MAILIN_REPLY_ADDRESS, e.g. ("reply", "resolve.example.com")."""
    local, _, domain = settings.MAILIN_REPLY_ADDRESS.rpartition("@")
    return local.lower(), domain.lower()


def reply_address(*, user_id: int, issue_id: int) -> str:
    local, domain = reply_mailbox()
    return f"{local}+{reply_token(user_id=user_id, issue_id=issue_id)}@{domain}"


def reply_token_in(address: str) -> str | None:
    """The token part of `reply+<token>@domain` when `address` is on the reply mailbox."""
    local, _, domain = address.strip().lower().rpartition("@")
    base, plus, tag = local.partition("+")
    if plus and (base, domain) == reply_mailbox():
        return tag
    return None
