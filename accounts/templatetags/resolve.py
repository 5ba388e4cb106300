"""Template helpers shared by every app."""

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def when(value):
    """A date as "3 hours ago", exact time (viewer's zone) on hover."""
    if not value:
        return ""
    local = timezone.localtime(value)
    exact = local.strftime("%Y-%m-%d %H:%M %Z")
    now = timezone.now()
    # The largest unit only ("3 hours", not "3 hours, 2 minutes"): depth=1 also spares
    # timesince translating the second unit (this filter runs once per row of every list).
    label = (
        f"{timesince(value, now, depth=1)} ago"
        if value <= now
        else f"in {timesince(now, value, depth=1)}"
    )
    return format_html('<time datetime="{}" title="{}">{}</time>', local.isoformat(), exact, label)


@register.filter
def exact(value):
    """A date in the viewer's zone, e.g. 2026-11-24 14:05 CET."""
    if not value:
        return ""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z")
