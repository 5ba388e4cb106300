"""Notification pieces other templates show.

Contract: `{% load notification_tags %}`, `{% notification_bell %}` in the top bar,
`{% who_is_notified issue %}` in the issue page's side panel. Emails use `|time_left`.
"""

from datetime import datetime

from django import template
from django.utils import timezone

from notifications import selectors

register = template.Library()


@register.inclusion_tag("notifications/_bell.html", takes_context=True)
def notification_bell(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    count = selectors.unread_count(user) if user is not None else 0
    return {"request": request, "unread": count}


@register.filter
def time_left(value: datetime | None, now: datetime | None = None) -> str:
    """ "in 1 h 10 min" or "25 min ago" (a deadline relative to now)."""
    if not value:
        return ""
    now = now or timezone.now()
    seconds = int((value - now).total_seconds())
    minutes = abs(seconds) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} d")
    if hours:
        parts.append(f"{hours} h")
    if mins or not parts:
        parts.append(f"{mins} min")
    text = " ".join(parts[:2])
    return f"in {text}" if seconds >= 0 else f"{text} ago"
