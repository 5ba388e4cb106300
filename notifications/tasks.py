"""Celery tasks of the notifications app. Each takes ids (or nothing), re-reads the database
and calls one service, so running any of them twice is harmless."""

import logging
from dataclasses import asdict
from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings

from . import emails, services
from .models import DigestEmail, Notification

log = logging.getLogger(__name__)


def _backoff(retries: int) -> int:
    """1 s, 2 s, 4 s … capped at NOTIFY_EMAIL_BACKOFF_MAX."""
    return int(min(2**retries, settings.NOTIFY_EMAIL_BACKOFF_MAX))


@shared_task(name="notifications.tasks.sweep_sla")
def sweep_sla() -> dict[str, int]:
    """Flag due SLA checkpoints and alert the escalation ladder (beat, every minute)."""
    result = services.sweep_sla()
    if result.flagged or result.escalated:
        log.info("SLA sweep: %s", result)
    return asdict(result)


@shared_task(name="notifications.tasks.process_outbox")
def process_outbox() -> int:
    """Fan out new issue events (queued on commit, and by beat as a catch-up)."""
    return services.process_outbox()


@shared_task(bind=True, name="notifications.tasks.send_notification_emails", max_retries=None)
def send_notification_emails(self: Task, notification_ids: list[int]) -> int:
    """Send these notification emails; retry the failed ones with exponential backoff."""
    failed = emails.send_notification_emails(notification_ids)
    if failed:
        if self.request.retries >= settings.NOTIFY_EMAIL_MAX_RETRIES:
            log.error("Giving %s emails to the catch-up beat entry", len(failed))
            return len(notification_ids) - len(failed)
        raise self.retry(args=(failed,), countdown=_backoff(self.request.retries))
    return len(notification_ids)


@shared_task(bind=True, name="notifications.tasks.send_digest_emails", max_retries=None)
def send_digest_emails(self: Task, digest_ids: list[int]) -> int:
    failed = emails.send_digest_emails(digest_ids)
    if failed:
        if self.request.retries >= settings.NOTIFY_EMAIL_MAX_RETRIES:
            return len(digest_ids) - len(failed)
        raise self.retry(args=(failed,), countdown=_backoff(self.request.retries))
    return len(digest_ids)


@shared_task(name="notifications.tasks.send_batched_notifications")
def send_batched_notifications() -> int:
    """One email per user gathering their notifications set to "digest"."""
    ids = emails.batch_digest_emails()
    for start in range(0, len(ids), services.EMAIL_CHUNK):
        send_digest_emails.delay(ids[start : start + services.EMAIL_CHUNK])
    return len(ids)


@shared_task(name="notifications.tasks.send_daily_digests")
def send_daily_digests() -> int:
    """The managers' daily SLA digest, at SLA_DIGEST_HOUR in each manager's time zone."""
    return services.create_daily_digests()


@shared_task(name="notifications.tasks.requeue_unsent_emails")
def requeue_unsent_emails() -> int:
    """Re-queue emails whose task was lost (broker down, worker killed, retries exhausted)."""
    older_than = timedelta(minutes=2)
    notes = emails.unsent(Notification, older_than=older_than)
    digests = emails.unsent(DigestEmail, older_than=older_than)
    for start in range(0, len(notes), services.EMAIL_CHUNK):
        send_notification_emails.delay(notes[start : start + services.EMAIL_CHUNK])
    for start in range(0, len(digests), services.EMAIL_CHUNK):
        send_digest_emails.delay(digests[start : start + services.EMAIL_CHUNK])
    return len(notes) + len(digests)
