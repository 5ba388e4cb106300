"""The three ways mail arrives: an SMTP/LMTP receiver the MTA delivers to, an IMAP mailbox
polled by Celery beat, and a drop folder of .eml files (make run). Each acknowledges a
message only after `services.receive_message` committed it."""

from __future__ import annotations

import asyncio
import logging
import ssl
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote, urlparse

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings
from django.db import close_old_connections

from . import services
from .models import Transport

log = logging.getLogger(__name__)


# --- SMTP / LMTP ---------------------------------------------------------------------------
def _deliver(raw: bytes, mail_from: str, rcpt_tos: list[str]) -> str:
    close_old_connections()
    try:
        rows = services.ingest(
            raw, transport=Transport.SMTP, envelope_from=mail_from, recipients=rcpt_tos
        )
    except Exception:  # the database is unreachable: the MTA keeps it and retries
        log.exception("Storing a received message failed")
        return "451 4.3.0 Could not store the message; try again later"
    # Committed (filed, commented, ignored or in quarantine): only now the 250.
    return f"250 2.0.0 Stored as {', '.join(str(row.pk) for row in rows)}"


def _known(address: str) -> bool:
    close_old_connections()
    return services.is_known_recipient(address)


class MailInHandler:
    """aiosmtpd handler: RCPT checks the address, DATA stores then answers. The database
    work runs in a thread pool (Django's ORM is synchronous)."""

    def __init__(self, *, workers: int):
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mailin")

    async def handle_RCPT(self, server, session: Session, envelope: Envelope, address, options):
        loop = asyncio.get_running_loop()
        try:
            known = await loop.run_in_executor(self.pool, _known, address)
        except Exception:
            log.exception("Recipient check failed")
            return "451 4.3.0 Temporary failure; try again later"
        if not known:
            return "550 5.1.1 No such project address here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        raw = content.encode("utf-8", "surrogateescape") if isinstance(content, str) else content
        mail_from = envelope.mail_from or ""
        if mail_from == "<>":
            mail_from = ""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.pool, _deliver, raw, mail_from, list(envelope.rcpt_tos)
        )


def smtp_factory(handler: MailInHandler, *, lmtp: bool, hostname: str | None = None):
    cls = LMTP if lmtp else SMTP

    def factory():
        return cls(
            handler,
            data_size_limit=settings.MAILIN_MAX_MESSAGE_BYTES,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=hostname,
            ident="Resolve mail-in",
        )

    return factory


# --- drop folder ---------------------------------------------------------------------------
def ingest_drop_folder(folder: Path) -> int:
    """Ingest each `*.eml` in the folder, then move it to `done/` (after the commit). A file
    still being written (modified in the last second) waits for the next round."""
    import time

    folder.mkdir(parents=True, exist_ok=True)
    done = folder / "done"
    done.mkdir(exist_ok=True)
    count = 0
    for path in sorted(folder.glob("*.eml")):
        try:
            if time.time() - path.stat().st_mtime < 1:
                continue
            raw = path.read_bytes()
        except OSError:
            continue
        close_old_connections()
        services.ingest(raw, transport=Transport.DROP)
        path.replace(done / path.name)
        count += 1
    return count


# --- IMAP ----------------------------------------------------------------------------------
def _mailbox(url: str):
    from imap_tools import MailBox, MailBoxUnencrypted

    parsed = urlparse(url)
    if parsed.scheme not in {"imap", "imaps"}:
        raise ValueError("MAILIN_IMAP_URL must start with imap:// or imaps://")
    box: MailBox | MailBoxUnencrypted
    if parsed.scheme == "imaps":
        box = MailBox(
            parsed.hostname or "", parsed.port or 993, ssl_context=ssl.create_default_context()
        )
    else:
        box = MailBoxUnencrypted(parsed.hostname or "", parsed.port or 143)
    folder = unquote(parsed.path.lstrip("/")) or "INBOX"
    return box, unquote(parsed.username or ""), unquote(parsed.password or ""), folder


def poll_imap_mailbox(url: str, *, batch: int = 200, done_folder: str = "") -> int:
    """Read every unseen message, store it, and only after the commit flag it \\Seen (or move
    it to `done_folder`). Two pollers at once, or a crash between commit and flag, only mean
    the message is handed over again: the Message-ID recognises it."""
    from imap_tools import AND

    box, user, password, folder = _mailbox(url)
    count = 0
    with box.login(user, password, initial_folder=folder) as mailbox:
        while True:
            uids = mailbox.uids(AND(seen=False))[:batch]
            if not uids:
                break
            handled = []
            for message in mailbox.fetch(AND(uid=uids), mark_seen=False, bulk=50):
                services.ingest(message.obj.as_bytes(), transport=Transport.IMAP)
                handled.append(message.uid)
            if not handled:
                break
            if done_folder:
                mailbox.move(handled, done_folder)
            else:
                mailbox.flag(handled, "\\Seen", True)
            count += len(handled)
    return count
