"""A small registry of benchmark sections for `manage.py bench`.

A module in `bench/sections/` (imported by that package) registers each section::

    from bench.registry import BenchContext, register_section

    @register_section("workflows")
    def workflows_section(ctx: BenchContext) -> dict:
        return {"transition": ctx.measure("POST", "/issues/BENCH-1/transition/", data=...)}

`manage.py bench` imports `bench.sections`, runs the chosen sections (`--only`),
prints a table and writes `var/bench/<section>.json`. Times are server times measured in-process
with Django's test client (no network): median and p95 over `ctx.requests` requests, after a
warm-up; `app_cpu_median_ms` is the CPU the Django process itself spent (telling on a busy
machine); `queries` is the SQL count of one request.
"""

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

SECTIONS: dict[str, Callable[["BenchContext"], dict[str, dict]]] = {}


def register_section(name: str):
    def decorator(func):
        SECTIONS[name] = func
        return func

    return decorator


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class BenchContext:
    client: Client
    user: Any
    requests: int = 30
    warmup: int = 3
    options: dict = field(default_factory=dict)

    def measure(
        self,
        method: str,
        url: str | Callable[[int], str],
        *,
        data: dict | Callable[[int], dict] | None = None,
        expect: int = 200,
    ) -> dict:
        """Time `requests` requests (url/data may be functions of the request number)."""

        def call(n: int):
            target = url(n) if callable(url) else url
            payload = data(n) if callable(data) else data
            send = self.client.post if method == "POST" else self.client.get
            response = send(target, payload or {}, secure=True)
            if response.status_code != expect:
                raise RuntimeError(f"{method} {target} answered {response.status_code}")
            if getattr(response, "streaming", False):
                b"".join(response.streaming_content)
            return response

        for n in range(self.warmup):
            call(-1 - n)
        with CaptureQueriesContext(connection) as queries:
            call(10_000)
        # Read now: the next request clears the connection's query log.
        query_count = len(queries.captured_queries)
        timings, cpu = [], []
        for n in range(self.requests):
            start, start_cpu = time.perf_counter(), time.process_time()
            call(n)
            timings.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
        return {
            "median_ms": round(statistics.median(timings), 1),
            "p95_ms": round(percentile(timings, 0.95), 1),
            # CPU spent in the Django process alone (excludes PostgreSQL and waiting for a core).
            "app_cpu_median_ms": round(statistics.median(cpu), 1),
            "queries": query_count,
            "requests": self.requests,
        }


def production_like_settings() -> dict[str, Any]:
    """Settings for `override_settings` while timing pages: DEBUG off (no query log; query
    counts are captured explicitly), the cached template loader even when started with DEBUG
    on, and static URLs without the manifest so that no collectstatic is needed."""
    from django.conf import settings

    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    templates = [
        {
            **engine,
            "APP_DIRS": False,
            "OPTIONS": {
                **engine.get("OPTIONS", {}),
                "debug": False,
                "loaders": [
                    (
                        "django.template.loaders.cached.Loader",
                        [
                            "django.template.loaders.filesystem.Loader",
                            "django.template.loaders.app_directories.Loader",
                        ],
                    )
                ],
            },
        }
        for engine in settings.TEMPLATES
    ]
    return {"DEBUG": False, "STORAGES": storages, "TEMPLATES": templates}
