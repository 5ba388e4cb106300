"""`manage.py poll_mail`: drain the IMAP mailbox once (what the `mail-in-imap` beat entry
does), e.g. from cron, or to work through a backlog by hand."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mailin.transports import poll_imap_mailbox


class Command(BaseCommand):
    help = "Read the IMAP mailbox's unseen messages, store and file them, then exit."

    def add_arguments(self, parser):
        parser.add_argument("--url", default=None, help="imap[s]://user:pw@host:port/FOLDER")
        parser.add_argument("--batch", type=int, default=200, help="messages per UID FETCH")
        parser.add_argument("--done-folder", default=None, help="move handled mail there")

    def handle(self, *args, **options):
        url = options["url"] or settings.MAILIN_IMAP_URL
        if not url:
            raise CommandError("Set MAILIN_IMAP_URL or pass --url imap://user:pw@host/INBOX.")
        done = options["done_folder"]
        count = poll_imap_mailbox(
            url,
            batch=options["batch"],
            done_folder=settings.MAILIN_IMAP_DONE_FOLDER if done is None else done,
        )
        self.stdout.write(f"Handed over {count} messages")
