"""Template helpers shared by every app."""

from functools import lru_cache

from django import template
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.timesince import TIME_STRINGS, timesince
from django.utils.translation import get_language

register = template.Library()


@lru_cache(maxsize=1024)
def _translated_unit(name: str, count: int, language: str | None) -> str:
    return TIME_STRINGS[name] % {"num": count}


class _CachedUnit:
    """Stands for one of timesince's lazy "%(num)d hours" strings; the translation of each
    (unit, number) is looked up once, not once per date shown (lists show one per row)."""

    def __init__(self, name: str):
        self.name = name

    def __mod__(self, params: dict) -> str:
        return _translated_unit(self.name, params["num"], get_language())


_CACHED_TIME_STRINGS = {name: _CachedUnit(name) for name in TIME_STRINGS}


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
    units = _CACHED_TIME_STRINGS
    label = (
        f"{timesince(value, now, time_strings=units, depth=1)} ago"
        if value <= now
        else f"in {timesince(now, value, time_strings=units, depth=1)}"
    )
    # Not format_html: it costs as much as the rest here. Both texts escaped; ISO dates are
    # digits and punctuation.
    return mark_safe(  # noqa: S308  # nosec B308 B703
        f'<time datetime="{local.isoformat()}" title="{escape(exact)}">{escape(label)}</time>'
    )


@register.filter
def exact(value):
    """A date in the viewer's zone, e.g. 2026-11-24 14:05 CET."""
    if not value:
        return ""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z")
