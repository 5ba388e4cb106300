"""Waking the senders: one sender task per endpoint with due deliveries, queued after the
commit; the retry window of a delivery."""

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import tasks
from ..models import (
    Subscription,
)

log = logging.getLogger(__name__)


def _retry_window() -> timedelta:
    return timedelta(hours=settings.WEBHOOK_RETRY_HOURS)


def kick(subscription_ids: Iterable[int], *, force: bool = False) -> None:
    """After the commit, queue a sender task for each endpoint that has none queued."""
    ids = list(subscription_ids)
    if ids:
        transaction.on_commit(lambda: queue_senders(ids, force=force))


def queue_senders(subscription_ids: Iterable[int], *, force: bool = False) -> int:
    """Queue one sender per endpoint unless one is queued already (and not lost: a mark older
    than WEBHOOK_CLAIM_SECONDS is taken for a lost task). `force` always queues (pings)."""

    now = timezone.now()
    stale = now - timedelta(seconds=settings.WEBHOOK_CLAIM_SECONDS)
    queued = 0
    for sid in subscription_ids:
        free = Q(sender_queued_at__isnull=True) | Q(sender_queued_at__lt=stale)
        if not Subscription.objects.filter(free, pk=sid).update(sender_queued_at=now) and not force:
            continue
        try:
            tasks.deliver_webhooks.delay(sid, force=force)
            queued += 1
        except Exception:
            # The catch-up beat entry finds what is due; nothing is lost.
            Subscription.objects.filter(pk=sid).update(sender_queued_at=None)
            log.exception("Could not queue the webhook sender of subscription %s", sid)
    return queued
