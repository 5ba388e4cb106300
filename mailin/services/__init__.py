"""Mail in: a message becomes an issue or a comment through the same services as the web form.

`ingest(raw, transport=…)` is what every transport calls (SMTP/LMTP receiver, IMAP poller,
drop folder, benchmark):

1. The raw message is stored once per project it is addressed to, keyed on the
   Message-ID (a repeat is recognised and not stored or filed again), and
2. in the same transaction it either files an issue (`issues.services.create_issue`: notifications, SLA clock and
   auto-assignment as for the form), adds a comment (`issues.services.add_comment`) for a
   reply carrying a genuine reply token, ignores automatic mail, or puts the message in the
   project's quarantine with the reason. Nothing half-done survives a failure: the
   transaction rolls back and the message is stored in quarantine with the reason instead.
   Only after the commit does the transport acknowledge (SMTP 250, IMAP flag/move, drop
   file moved away), so a crash before it loses nothing: the message is handed over again.
   (`receive_message` + `process_message` split the two steps; the catch-up task processes
   rows stored that way and left unprocessed.)
3. A refused message from a person (not automatic mail) gets at most one polite bounce per
   sender per MAILIN_BOUNCE_EVERY_HOURS.

Managers release a quarantined message into an issue (`release_message`) or discard it.
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
