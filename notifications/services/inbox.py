"""The inbox and preferences: read marks and how each kind of notification reaches a person."""

from django.db import transaction
from django.utils import timezone

from accounts.actors import Actor

from ..models import (
    ALWAYS_IMMEDIATE,
    MODES_FOR_KIND,
    Kind,
    Mode,
    Notification,
    NotificationPreference,
)


class NotificationError(Exception):
    """A refused notification change; `str(error)` is shown to the user."""


# --- the inbox and preferences -------------------------------------------------------------------


def mark_read(notification: Notification, *, user: Actor) -> None:
    if notification.recipient_id != user.pk:
        raise NotificationError("This notification is not yours.")
    if notification.read_at is None:
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=timezone.now()
        )


def mark_all_read(user: Actor) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def set_preferences(user: Actor, *, modes: dict[str, str]) -> None:
    """Save the user's mode per kind; forced kinds and unknown modes are refused."""
    for kind, mode in modes.items():
        if kind not in Kind.values or mode not in Mode.values:
            raise NotificationError(f"Unknown notification setting {kind}: {mode}.")
        if kind in ALWAYS_IMMEDIATE:
            raise NotificationError(f"“{Kind(kind).label}” always goes out immediately.")
        if mode not in MODES_FOR_KIND.get(Kind(kind), Mode.values):
            raise NotificationError(
                f"“{Mode(mode).label}” is not available for {Kind(kind).label}."
            )
    with transaction.atomic():
        for kind, mode in modes.items():
            NotificationPreference.objects.update_or_create(
                user=user, kind=kind, defaults={"mode": mode}
            )
