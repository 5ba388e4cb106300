"""Timing one page: captured in-process (its statements), then requested over HTTP (wall and
CPU time, optionally interleaved with another checkout), its SQL replayed raw (the floor), and
its throughput with wrk. A mixin of the bench_served command (it reads the command's options)."""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess  # nosec B404 - wrk, never with user input
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.urls import reverse

from bench.management.commands.seed_bench import BENCH_USER
from bench.processes import child_pids, cpu_by_pid, cpu_delta
from bench.registry import percentile

from .client import HttpSession


@dataclass
class Page:
    name: str
    method: str
    path: str | Any  # a path, or a function of the request number giving one
    data: Any = None  # form data, or a function of the request number giving it
    expect: int = 200
    floor: bool = True  # replay its SQL (reads only)
    note: str = ""
    result: dict = field(default_factory=dict)

    def at(self, n: int) -> tuple[str, dict | None]:
        path = self.path(n) if callable(self.path) else self.path
        data = self.data(n) if callable(self.data) else self.data
        return path, data


class PageTiming:
    def _login(self, http_client: HttpSession, password: str) -> None:
        login = reverse("login")
        status, body, _ = http_client.request("GET", login)
        match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        if status != 200 or match is None:
            raise CommandError(f"The login page answered {status} without a CSRF token.")
        status, body, headers = http_client.request(
            "POST",
            login,
            {
                "username": BENCH_USER,
                "password": password,
                "csrfmiddlewaretoken": match.group(1).decode(),
            },
        )
        if status != 302 or "sessionid" not in http_client.cookies:
            raise CommandError(f"Logging in through the form failed ({status}).")

    def _csrf(self, http_client: HttpSession) -> str:
        return http_client.cookies.get("csrftoken", "")

    def _capture(self, client: Client, page: Page) -> list[tuple[str, Any]]:
        """Run the page once in this process and return every statement it ran."""
        statements: list[tuple[str, Any]] = []

        def record(execute, sql, params, many, context):
            statements.append((sql, params))
            return execute(sql, params, many, context)

        path, data = page.at(-1)
        with connection.execute_wrapper(record):
            if page.method == "POST":
                response = client.post(path, data or {}, secure=True)
            else:
                response = client.get(path, secure=True)
        if response.status_code != page.expect:
            raise CommandError(f"{page.name}: {path} answered {response.status_code} in-process.")
        return statements

    def _time(self, http_client: HttpSession, page: Page, server, other=None) -> dict:
        """Sequential requests; besides the client's wall times, the CPU that gunicorn and
        its PostgreSQL backends spent per timed request (telling on a shared machine, where
        wall times include waiting for a core)."""
        warmup, requests = self.opts["warmup"], self.opts["requests"]
        timings: list[float] = []
        other_timings: list[float] = []
        size = 0
        pids: list[int] = []
        cpu_before: tuple[dict[int, float], dict[int, float]] = ({}, {})
        for n in range(warmup + requests):
            if n == warmup:
                pids = [server.pid, *child_pids(server.pid)]
                cpu_before = (cpu_by_pid(pids), cpu_by_pid(self._backends()))
            path, data = page.at(n)
            if data is not None:
                data = {**data, "csrfmiddlewaretoken": self._csrf(http_client)}
            started = time.perf_counter()
            status, body, _ = http_client.request(page.method, path, data)
            elapsed = (time.perf_counter() - started) * 1000
            if status != page.expect:
                raise CommandError(f"{page.name}: {path} answered {status}: {body[:300]!r}")
            if n >= warmup:
                timings.append(elapsed)
                size = len(body)
            if other is not None:
                # The same request to the other checkout, right after: the same load.
                other_path, other_data = page.at(n + 100_000 if page.method == "POST" else n)
                if other_data is not None:
                    other_data = {**other_data, "csrfmiddlewaretoken": self._csrf(other)}
                started = time.perf_counter()
                status, body, _ = other.request(page.method, other_path, other_data)
                if status != page.expect:
                    raise CommandError(f"{page.name} (--against): {other_path} answered {status}")
                if n >= warmup:
                    other_timings.append((time.perf_counter() - started) * 1000)
        gunicorn_cpu = cpu_delta(cpu_before[0], pids) * 1000 / requests
        postgres_cpu = cpu_delta(cpu_before[1], self._backends()) * 1000 / requests
        return {
            "path": page.at(0)[0],
            "method": page.method,
            "requests": requests,
            "p50_ms": round(statistics.median(timings), 1),
            "p95_ms": round(percentile(timings, 0.95), 1),
            "bytes": size,
            "gunicorn_cpu_ms": round(gunicorn_cpu, 1),
            "postgres_cpu_ms": round(postgres_cpu, 1),
            **(
                {
                    "against_p50_ms": round(statistics.median(other_timings), 1),
                    "against_p95_ms": round(percentile(other_timings, 0.95), 1),
                    "against_over_this": round(
                        statistics.median(other_timings) / statistics.median(timings), 2
                    ),
                }
                if other_timings
                else {}
            ),
            **({"note": page.note} if page.note else {}),
        }

    def _replay(self, statements: list[tuple[str, Any]]) -> float:
        """The page's SQL floor: each captured statement run raw (psycopg, client-side
        binding as Django does), p50 of --replays runs, summed; in ms."""
        runs: list[list[float]] = [[] for _ in statements]
        with psycopg.connect(
            **self.db_params,
            autocommit=True,
            cursor_factory=psycopg.ClientCursor,
            options="-c jit=off",
        ) as raw:
            cursor = raw.cursor()
            for _ in range(self.opts["replays"]):
                for i, (sql, params) in enumerate(statements):
                    started = time.perf_counter()
                    cursor.execute(sql, params)
                    if cursor.description is not None:
                        cursor.fetchall()
                    runs[i].append((time.perf_counter() - started) * 1000)
        return round(sum(statistics.median(r) for r in runs), 2)

    def _wrk(self, port: int, server, http_client: HttpSession, page: Page) -> dict:
        wrk = shutil.which("wrk")
        if wrk is None:
            self.stderr.write("wrk is not installed (apt-get install wrk): no throughput figures.")
            return {}
        path, _ = page.at(0)
        cookie = "; ".join(f"{k}={v}" for k, v in http_client.cookies.items())
        seconds, conns = self.opts["throughput_seconds"], self.opts["connections"]
        pids = [server.pid, *child_pids(server.pid)]
        cpu_before = (cpu_by_pid(pids), cpu_by_pid(self._backends()))
        load_before = os.getloadavg()[0]
        out = subprocess.run(  # noqa: S603  # nosec B603
            [
                wrk,
                "-t2",
                f"-c{conns}",
                f"-d{seconds}s",
                "--latency",
                "-H",
                f"Cookie: {cookie}",
                "-H",
                "X-Forwarded-Proto: https",
                f"http://127.0.0.1:{port}{path}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        cpu_used = (cpu_delta(cpu_before[0], pids), cpu_delta(cpu_before[1], self._backends()))
        total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        latency = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.M))
        result = {
            "path": path,
            "connections": conns,
            "seconds": seconds,
            "requests": total,
            "views_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
            "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
            "latency": latency,
            "gunicorn_cpu_ms_per_request": round(cpu_used[0] * 1000 / total, 2) if total else None,
            "postgres_cpu_ms_per_request": round(cpu_used[1] * 1000 / total, 2) if total else None,
            "load_average_at_start": round(load_before, 2),
        }
        self.stdout.write(
            f"  {page.name}: {result['views_per_second']} views/s at c={conns} "
            f"({result['non_2xx']} non-2xx; gunicorn {result['gunicorn_cpu_ms_per_request']} "
            f"CPU-ms/request, PostgreSQL {result['postgres_cpu_ms_per_request']})"
        )
        return result

    def _backends(self) -> list[int]:
        with psycopg.connect(**self.db_params, autocommit=True) as raw:
            rows = raw.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            ).fetchall()
        return [row[0] for row in rows]
