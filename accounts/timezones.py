"""Which time zone a person sees: one rule for pages, emails, digests and notices."""

import zoneinfo
from typing import Protocol

UTC = zoneinfo.ZoneInfo("UTC")


class HasTimeZone(Protocol):
    time_zone: str


def zone_named(name: str | None) -> zoneinfo.ZoneInfo:
    """The zone of a person whose profile says `name`: that zone, else UTC (none chosen, or a
    name this machine's time-zone database does not know)."""
    if not name:
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return UTC


def user_zone(user: HasTimeZone) -> zoneinfo.ZoneInfo:
    """The zone `user` sees every date in."""
    return zone_named(getattr(user, "time_zone", ""))
