"""Notification pieces other templates show.

Contract: `{% load notification_tags %}`, `{% notification_bell %}` in the top bar,
`{% who_is_notified issue %}` in the issue page's side panel. Emails use `|time_left`.
"""

from datetime import datetime
from functools import cache

from django import template
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from notifications import selectors

register = template.Library()


_BELL = (
    '<li class="nav-item"><a class="nav-link position-relative" href="{url}"'
    ' id="notification-bell" title="Notifications">\n'
    '  <i class="bi bi-bell{fill}" aria-hidden="true"></i>\n'
    "  {badge}\n"
    "</a></li>\n"
)
_UNREAD_BADGE = (
    '<span class="badge rounded-pill text-bg-danger" data-unread="{n}">{n}</span>'
    '<span class="visually-hidden"> unread notifications</span>'
)
_NONE_UNREAD = '<span class="visually-hidden">Notifications, none unread</span>'


@cache
def _inbox_url(script_prefix: str) -> str:
    return reverse("notification_inbox")


@register.simple_tag(takes_context=True)
def notification_bell(context):
    """The top bar's bell with the unread count: the markup of notifications/_bell.html,
    written in Python (it is on every page; tests compare both)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    count = selectors.unread_count(user) if user is not None else 0
    return mark_safe(  # noqa: S308  # nosec B308 B703 - an int and a reversed URL
        _BELL.format(
            url=_inbox_url(get_script_prefix()),
            fill="-fill" if count else "",
            badge=_UNREAD_BADGE.format(n=int(count)) if count else _NONE_UNREAD,
        )
    )


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
