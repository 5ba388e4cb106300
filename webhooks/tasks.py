"""Celery tasks of the webhooks app: each takes ids, re-reads the database and calls one
service, so a duplicate or retried task is harmless (claims are in the database)."""

import logging

from celery import Task, shared_task
from django.utils import timezone

from . import emails, services

log = logging.getLogger(__name__)


@shared_task(name="webhooks.tasks.deliver_webhooks")
def deliver_webhooks(subscription_id: int, force: bool = False) -> int:
    """One turn of an endpoint's sender; queues the next turn when something is waiting."""
    result = services.deliver_due(subscription_id, force=force)
    if result.again_now:
        # Back of the queue: the other endpoints get their turn first.
        services.queue_senders([subscription_id])
    elif result.next_wake is not None and services.reserve_wake(subscription_id, result.next_wake):
        deliver_webhooks.apply_async((subscription_id,), eta=result.next_wake)
    return result.sent


@shared_task(name="webhooks.tasks.requeue_due_webhooks")
def requeue_due_webhooks() -> int:
    """Catch-up: queue a sender for every endpoint with due deliveries (lost tasks, restarts)."""
    return services.queue_senders(services.due_subscription_ids())


@shared_task(bind=True, name="webhooks.tasks.mail_disabled_subscription", max_retries=10)
def mail_disabled_subscription(self: Task, subscription_id: int) -> int:
    """Tell the project's Managers that Resolve disabled their failing webhook."""
    try:
        return emails.mail_disabled_subscription(subscription_id)
    except Exception as exc:
        log.warning("Disabled-webhook e-mail failed at %s: %s", timezone.now(), exc)
        raise self.retry(countdown=min(2**self.request.retries * 5, 600)) from exc
