"""Celery tasks of mail in (the beat schedule is in tracker/settings.py)."""

from celery import shared_task
from django.conf import settings

from . import services, transports


@shared_task
def poll_imap() -> int:
    """Drain the IMAP mailbox of MAILIN_IMAP_URL (nothing to do when it is not set)."""
    if not settings.MAILIN_IMAP_URL:
        return 0
    return transports.poll_imap_mailbox(
        settings.MAILIN_IMAP_URL, done_folder=settings.MAILIN_IMAP_DONE_FOLDER
    )


@shared_task
def process_pending_mail() -> int:
    """Process stored messages a crash left unprocessed."""
    return services.process_pending_mail()
