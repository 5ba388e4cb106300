"""Per-token rate limit for intake: a fixed one-minute window counted in a cache.

Why not the django-ratelimit decorator: its cache is one global setting shared with any
other use in the project and its rate is per view, while intake needs a per-project rate
keyed on the token and the seconds until the window resets (for `Retry-After`). Why not the
database: it would add a write to every event on the hot path. The counter lives in the
`intake` cache alias: Redis when REDIS_URL is set (shared by all gunicorn workers),
process memory otherwise (then the limit applies per worker process).
"""

import math
import time

from django.core.cache import caches

CACHE_ALIAS = "intake"
PERIOD_SECONDS = 60


def _count(cache_key: str, period: int) -> int:
    cache = caches[CACHE_ALIAS]
    raw = getattr(cache, "_cache", None)
    if raw is not None and hasattr(raw, "get_client"):
        # Django's Redis cache: one INCR (plus EXPIRE on the window's first hit) instead of
        # the generic add/exists/incr round trips.
        key = cache.make_and_validate_key(cache_key)
        client = getattr(raw, "_intake_client", None)
        if client is None:  # one client per process (redis-py pools its connections)
            client = raw._intake_client = raw.get_client(key, write=True)
        count = int(client.incr(key))
        if count == 1:
            client.expire(key, period + 5)
        return count
    if cache.add(cache_key, 1, timeout=period + 5):
        return 1
    try:
        return cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=period + 5)
        return 1


def retry_after(key: str, *, limit: int, period: int = PERIOD_SECONDS) -> int | None:
    """Count one request for `key`; None when allowed, else the seconds to wait."""
    now = time.time()
    window = int(now // period)
    count = _count(f"intake-rl:{key}:{window}", period)
    if count <= limit:
        return None
    return max(1, math.ceil((window + 1) * period - now))
