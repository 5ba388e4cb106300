"""Template helpers shared by every app."""

import html
from functools import lru_cache

from django import template
from django.utils import timezone
from django.utils.html import avoid_wrapping
from django.utils.safestring import mark_safe
from django.utils.timesince import TIME_CHUNKS, TIME_STRINGS, TIME_STRINGS_KEYS, timesince
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

# Weeks, days, hours, minutes: the units below a month, each with its length in seconds.
_SHORT_UNITS = list(zip(TIME_STRINGS_KEYS[2:], TIME_CHUNKS, strict=True))


@lru_cache(maxsize=1024)
def _age_text(name: str, count: int, language: str | None) -> str:
    return avoid_wrapping(TIME_STRINGS[name] % {"num": count})


def _largest_unit(earlier, later, language: str | None) -> str:
    """timesince(earlier, later, depth=1): under 28 days no month can have passed, and the
    largest unit is plain division (timesince's calendar walk costs several times more, once
    per row of every list); from 28 days on, timesince itself."""
    delta = later - earlier
    if delta.days >= 28:
        return timesince(earlier, later, time_strings=_CACHED_TIME_STRINGS, depth=1)
    count, name = 0, "minute"
    if delta.days * 86400 + delta.seconds > 0:  # timesince ignores microseconds here
        seconds = delta.total_seconds()
        for unit, length in _SHORT_UNITS:
            if seconds >= length:
                count, name = int(seconds // length), unit
                break
    return _age_text(name, count, language)


def _when(value, zone, now, language: str | None) -> str:
    if timezone.is_naive(value):
        raise ValueError("localtime() cannot be applied to a naive datetime")
    local = value.astimezone(zone)
    exact = local.strftime("%Y-%m-%d %H:%M %Z")
    # The largest unit only ("3 hours", not "3 hours, 2 minutes"), as timesince's depth=1
    # (this filter runs once per row of every list).
    label = (
        f"{_largest_unit(value, now, language)} ago"
        if value <= now
        else f"in {_largest_unit(now, value, language)}"
    )
    # Not format_html: it costs as much as the rest here. Both texts escaped (html.escape is
    # what Django's escape() applies); ISO dates are digits and punctuation.
    return (
        f'<time datetime="{local.isoformat()}" title="{html.escape(exact)}">'
        f"{html.escape(label)}</time>"
    )


@register.filter
def when(value):
    """A date as "3 hours ago", exact time (viewer's zone) on hover."""
    if not value:
        return ""
    return mark_safe(  # noqa: S308  # nosec B308 B703 - escaped in _when
        _when(value, timezone.get_current_timezone(), timezone.now(), get_language())
    )


def when_renderer(now=None):
    """`when` for the many dates of one page (a list's rows): the viewer's zone, the time now
    and the language looked up once, not once per date (each is a context-local lookup)."""
    zone, language = timezone.get_current_timezone(), get_language()
    now = now or timezone.now()

    def render(value):
        if not value:
            return ""
        return mark_safe(_when(value, zone, now, language))  # noqa: S308  # nosec B308 B703

    return render


@register.filter
def exact(value):
    """A date in the viewer's zone, e.g. 2026-11-24 14:05 CET."""
    if not value:
        return ""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z")
