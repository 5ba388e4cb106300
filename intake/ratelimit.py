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


def retry_after(key: str, *, limit: int, period: int = PERIOD_SECONDS) -> int | None:
    """Count one request for `key`; None when allowed, else the seconds to wait."""
    now = time.time()
    window = int(now // period)
    cache = caches[CACHE_ALIAS]
    cache_key = f"intake-rl:{key}:{window}"
    if cache.add(cache_key, 1, timeout=period + 5):
        count = 1
    else:
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.set(cache_key, 1, timeout=period + 5)
            count = 1
    if count <= limit:
        return None
    return max(1, math.ceil((window + 1) * period - now))
