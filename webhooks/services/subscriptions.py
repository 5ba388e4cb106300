"""Subscriptions: create, change, pause and resume, rotate the secret, ping, redeliver."""

from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.actors import Actor
from projects.models import Project

from .. import payloads
from ..models import (
    PING,
    Delivery,
    DeliveryState,
    EventType,
    Format,
    Subscription,
    SubscriptionState,
    new_secret,
)
from ..urlsafety import UnsafeURL, check_target
from .queueing import _retry_window, kick


class SubscriptionError(Exception):
    """A refused change; `str(error)` is shown to the user, next to `field` when set."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _clean(url: str, event_types: Sequence[str], fmt: str) -> tuple[str, list[str]]:
    url = url.strip()
    try:
        check_target(url)
    except UnsafeURL as e:
        raise SubscriptionError(str(e), field="url") from None
    known = set(EventType.values)
    chosen = [t for t in EventType.values if t in set(event_types)]
    unknown = sorted(set(event_types) - known)
    if unknown:
        raise SubscriptionError(f"Unknown event types: {', '.join(unknown)}.", field="event_types")
    if not chosen:
        raise SubscriptionError("Choose at least one event type.", field="event_types")
    if fmt not in Format.values:
        raise SubscriptionError("Choose a format.", field="format")
    return url, chosen


def create_subscription(
    project: Project,
    *,
    actor: Actor,
    url: str,
    event_types: Sequence[str],
    format: str = Format.STANDARD,
    description: str = "",
    active: bool = True,
) -> Subscription:
    """Validate (SSRF guard included) and save a subscription; its secret is new."""
    url, chosen = _clean(url, event_types, format)
    return Subscription.objects.create(
        project=project,
        url=url,
        event_types=chosen,
        format=format,
        description=description.strip()[:200],
        state=SubscriptionState.ACTIVE if active else SubscriptionState.PAUSED,
        created_by=actor,
    )


def update_subscription(
    subscription: Subscription,
    *,
    actor: Actor,
    url: str,
    event_types: Sequence[str],
    format: str,
    description: str,
    active: bool,
) -> Subscription:
    """Change a subscription. Turning a disabled one back on resumes what is pending."""
    url, chosen = _clean(url, event_types, format)
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().get(pk=subscription.pk)
        was = sub.state
        sub.url, sub.event_types, sub.format = url, chosen, format
        sub.description = description.strip()[:200]
        sub.state = SubscriptionState.ACTIVE if active else SubscriptionState.PAUSED
        if was == SubscriptionState.DISABLED and active:
            _resume(sub)
        elif was == SubscriptionState.DISABLED:
            sub.state = SubscriptionState.DISABLED  # paused stays disabled until turned on
        sub.save()
        if sub.state == SubscriptionState.ACTIVE:
            kick([sub.pk])
    return sub


def _resume(sub: Subscription) -> None:
    now = timezone.now()
    sub.failing_since = None
    sub.disabled_at = None
    sub.wake_at = None
    Delivery.objects.filter(subscription=sub, state=DeliveryState.PENDING).update(
        next_attempt_at=now, give_up_at=now + _retry_window()
    )


def rotate_secret(subscription: Subscription, *, actor: Actor) -> str:
    """A new secret; the old one keeps signing (second signature) for WEBHOOK_ROTATION_HOURS."""
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().get(pk=subscription.pk)
        sub.previous_secret = sub.secret
        sub.previous_secret_until = timezone.now() + timedelta(
            hours=settings.WEBHOOK_ROTATION_HOURS
        )
        sub.secret = new_secret()
        sub.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
    subscription.secret = sub.secret
    return sub.secret


def send_ping(subscription: Subscription, *, actor: Actor) -> Delivery:
    """Queue a `ping` (sent even while paused or disabled: it is how people test a fix)."""
    now = timezone.now()
    data = {
        "project": subscription.project.key,
        "subscription": subscription.pk,
        "message": f"Test from Resolve, sent by {actor}.",
    }
    delivery = Delivery.objects.create(
        subscription=subscription,
        type=PING,
        body=payloads.render_body(subscription.format, PING, data, at=now),
        next_attempt_at=now,
        give_up_at=now + _retry_window(),
        event_at=now,
    )
    kick([subscription.pk], force=True)
    return delivery


def redeliver(delivery: Delivery, *, actor: Actor) -> Delivery:
    """Send a finished delivery again: same webhook-id, same body, a fresh retry window."""
    now = timezone.now()
    updated = Delivery.objects.filter(
        pk=delivery.pk, state__in=[DeliveryState.SUCCEEDED, DeliveryState.FAILED]
    ).update(
        state=DeliveryState.PENDING,
        next_attempt_at=now,
        give_up_at=now + _retry_window(),
        claimed_until=None,
    )
    if not updated:
        raise SubscriptionError("This delivery is still being sent.")
    kick([delivery.subscription_id], force=delivery.type == PING)
    delivery.refresh_from_db()
    return delivery
