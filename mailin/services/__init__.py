"""Mail in: a message becomes an issue or a comment through the same services as the web form.

Two steps, which the transports run apart or together:

1. **Store** (`read_received` + `store_received`): the raw message is stored once per project it
   is addressed to, keyed on the project and the Message-ID (`INSERT … ON CONFLICT DO NOTHING`:
   a repeat is recognised and not stored again). Routing reads the headers only. Several
   messages are stored in one commit (the SMTP receiver's group commit, an IMAP batch). Only
   after that commit does the transport acknowledge (SMTP 250, IMAP flag/move), so a crash
   before it loses nothing: the message is handed over again.
2. **File** (`file_received`, in batches after the acknowledgement): a batch claims stored
   rows with `FOR UPDATE SKIP LOCKED` and handles each in its own savepoint: it files an issue
   (workflows' `create_issue`: notifications, SLA clock and auto-assignment as for the form),
   adds a comment (`issues.services.add_comment`) for a reply carrying a genuine reply token,
   ignores automatic mail, or puts the message in the project's quarantine with the reason.
   A message that fails rolls back alone and goes to quarantine; the batch kicks the
   notifications outbox once.

`ingest(raw, transport=…)` does both in one transaction (the drop folder, the tests).
A refused message from a person (not automatic mail) gets at most one polite bounce per
sender per MAILIN_BOUNCE_EVERY_HOURS. Managers release a quarantined message into an issue
(`release_message`) or discard it.
"""

from .addresses import (
    add_mail_address,
    mail_settings_of,
    normalise_address,
    remove_mail_address,
    set_accept_from,
    update_mail_address,
)
from .batches import file_all_received, file_received, process_pending_mail
from .common import MailInError, Refused
from .processing import ingest, process_message
from .quarantine import discard_message, release_message
from .routing import Received, is_known_recipient, read_received, receive_message, store_received

__all__ = [
    "MailInError",
    "Received",
    "Refused",
    "add_mail_address",
    "discard_message",
    "file_all_received",
    "file_received",
    "ingest",
    "is_known_recipient",
    "mail_settings_of",
    "normalise_address",
    "process_message",
    "process_pending_mail",
    "read_received",
    "receive_message",
    "release_message",
    "remove_mail_address",
    "set_accept_from",
    "store_received",
    "update_mail_address",
]
