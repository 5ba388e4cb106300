"""How much work a calendar did: local years built and days looked at (the caches' misses).

Load-independent, unlike a wall-clock bound in the unit suite; timings belong to `make bench`.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from workflows import businesstime


@dataclass
class Work:
    years: int = 0
    days: int = 0


@contextmanager
def counted_work() -> Iterator[Work]:
    businesstime._build_year.cache_clear()
    businesstime._day_intervals.cache_clear()
    work = Work()
    try:
        yield work
    finally:
        work.years = businesstime._build_year.cache_info().misses
        work.days = businesstime._day_intervals.cache_info().misses
