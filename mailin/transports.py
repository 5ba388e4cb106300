"""The three ways mail arrives: an SMTP/LMTP receiver the MTA delivers to, an IMAP mailbox
polled by Celery beat, and a drop folder of .eml files (make run). Each acknowledges a
message only after the commit that stored it (`services.store_received`, or `ingest` for the
drop folder); filing follows in batches (`services.file_received`)."""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
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
STORE_BATCH = 100  # messages of concurrent sessions stored in one commit, at most
KNOWN_FOR = 30.0  # seconds a known recipient stays known without asking the database


def _known(address: str) -> bool:
    close_old_connections()
    return services.is_known_recipient(address)


def _store(messages: list[services.Received]) -> list[list[int] | Exception]:
    """Store a group of messages in one commit; if that fails, each on its own, so one
    message the database refuses gets its 451 without taking the others with it."""
    close_old_connections()
    try:
        return list(services.store_received(messages))
    except Exception:
        if len(messages) == 1:
            log.exception("Storing a received message failed")
            return [RuntimeError("not stored")]
    results: list[list[int] | Exception] = []
    for message in messages:
        close_old_connections()
        try:
            results.extend(services.store_received([message]))
        except Exception as exc:
            log.exception("Storing a received message failed")
            results.append(exc)
    return results


def _file() -> int:
    close_old_connections()
    return services.file_received()


class MailInHandler:
    """aiosmtpd handler. RCPT checks the address (a known one is remembered for 30 s). DATA
    reads the headers, hands the message to the group commit and answers 250 only once the
    commit holding it returned: the messages of every session that arrived meanwhile are
    stored by one INSERT and one commit. Filing follows the 250, in batches (`file_received`);
    a receiver stopped before it leaves stored rows the next batch or the catch-up files.
    The database work runs in a thread pool (Django's ORM is synchronous)."""

    def __init__(self, *, workers: int, filers: int = 1):
        # Filing loops run in the pool too: keep a thread free for storing (the 250s).
        self.pool = ThreadPoolExecutor(
            max_workers=max(workers, filers + 1), thread_name_prefix="mailin"
        )
        self._known: dict[str, float] = {}
        self._waiting: list[tuple[services.Received, asyncio.Future]] = []
        self._storing: asyncio.Task | None = None
        self.filers = max(1, filers)
        self._filing: list[asyncio.Task] = []
        self._file_again = False

    async def handle_RCPT(self, server, session: Session, envelope: Envelope, address, options):
        key = address.strip().lower()
        if self._known.get(key, 0.0) < time.monotonic():
            loop = asyncio.get_running_loop()
            try:
                known = await loop.run_in_executor(self.pool, _known, address)
            except Exception:
                log.exception("Recipient check failed")
                return "451 4.3.0 Temporary failure; try again later"
            if not known:  # never remembered: an address added a moment ago works at once
                return "550 5.1.1 No such project address here"
            if len(self._known) > 10_000:
                self._known.clear()
            self._known[key] = time.monotonic() + KNOWN_FOR
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        raw = content.encode("utf-8", "surrogateescape") if isinstance(content, str) else content
        mail_from = envelope.mail_from or ""
        if mail_from == "<>":
            mail_from = ""
        loop = asyncio.get_running_loop()
        received = await loop.run_in_executor(
            self.pool,
            partial(
                services.read_received,
                raw,
                transport=Transport.SMTP,
                envelope_from=mail_from,
                recipients=list(envelope.rcpt_tos),
            ),
        )
        stored: asyncio.Future = loop.create_future()
        self._waiting.append((received, stored))
        if self._storing is None or self._storing.done():
            self._storing = asyncio.create_task(self._store_waiting())
        result = await stored
        if isinstance(result, Exception):  # not stored: the MTA keeps it and retries
            return "451 4.3.0 Could not store the message; try again later"
        self.file_soon()
        # Committed (a repeat was recognised by its fingerprint): only now the 250.
        return f"250 2.0.0 Stored as {', '.join(str(pk) for pk in result)}"

    async def _store_waiting(self) -> None:
        """The group commit: whatever waits when the previous commit returns is the next
        group, so a busy receiver commits large groups and an idle one commits at once."""
        loop = asyncio.get_running_loop()
        while self._waiting:
            group, self._waiting = self._waiting[:STORE_BATCH], self._waiting[STORE_BATCH:]
            try:
                results = await loop.run_in_executor(self.pool, _store, [r for r, _ in group])
            except Exception as exc:
                results = [exc] * len(group)
            for (_, future), result in zip(group, results, strict=True):
                if not future.done():
                    future.set_result(result)

    def file_soon(self) -> None:
        """File what is stored, after the 250s: up to `filers` filing loops per process, each
        claiming its own batches (filing waits on the database half the time, so a second
        loop files meanwhile)."""
        self._filing = [task for task in self._filing if not task.done()]
        if len(self._filing) < self.filers:
            self._filing.append(asyncio.create_task(self._file_stored()))
        else:
            self._file_again = True

    async def _file_stored(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._file_again = False
            try:
                handled = await loop.run_in_executor(self.pool, _file)
            except Exception:  # the database went away: the catch-up beat task files later
                log.exception("Filing stored mail failed")
                return
            if not handled and not self._file_again:
                return


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


_FETCHED_UID = re.compile(rb"UID (\d+)")


def _fetch_raw(client, uids: list[str]) -> list[tuple[str, bytes]]:
    """(uid, the message's bytes as the server holds them) for these UIDs, in one UID FETCH
    (BODY.PEEK: fetching does not set \\Seen)."""
    typ, data = client.uid("FETCH", ",".join(uids), "(UID BODY.PEEK[])")
    if typ != "OK":
        raise RuntimeError(f"IMAP FETCH failed: {data!r}"[:300])
    found = []
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            match = _FETCHED_UID.search(item[0])
            if match:
                found.append((match.group(1).decode(), bytes(item[1])))
    return found


def poll_imap_mailbox(url: str, *, batch: int = 200, done_folder: str = "") -> int:
    """Drain the mailbox's unseen messages, `batch` at a time: fetch them by UID, store them
    in one commit, and only after it flag them \\Seen (or move them to `done_folder`); then
    file what is stored. A poller killed anywhere, or two pollers at once, only mean a
    message is handed over again: its fingerprint (project + Message-ID) recognises it, and
    rows stored but not yet filed are filed by the next batch (`SKIP LOCKED`: never twice).
    Returns how many messages were handed over."""
    from imap_tools import AND

    box, user, password, folder = _mailbox(url)
    count = 0
    with box.login(user, password, initial_folder=folder) as mailbox:
        services.file_all_received()  # left stored by a poller stopped before filing
        while True:
            uids = mailbox.uids(AND(seen=False))[:batch]
            if not uids:
                break
            fetched = _fetch_raw(mailbox.client, uids)
            if not fetched:
                break
            services.store_received(
                [
                    services.read_received(
                        raw, transport=Transport.IMAP, envelope_from=None, recipients=None
                    )
                    for _uid, raw in fetched
                ]
            )
            handled = [uid for uid, _raw in fetched]
            if done_folder:
                mailbox.move(handled, done_folder)
            else:
                mailbox.flag(handled, "\\Seen", True)
            count += len(handled)
            services.file_all_received()
    return count
