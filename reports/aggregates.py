"""SQL building blocks for the dashboard: seconds between two moments and, for SQLite, a
median aggregate.

PostgreSQL computes medians with `percentile_cont(0.5) WITHIN GROUP (ORDER BY …)`; SQLite
(embedded default and fast tests) gets a `resolve_median` aggregate registered on each
connection with the same interpolating definition, so every metric is SQL on both.
"""

from __future__ import annotations

from typing import Any

from django.db.models import FloatField, Func


class SecondsBetween(Func):
    """Elapsed seconds from the first to the second datetime expression (a float)."""

    arity = 2
    output_field = FloatField()

    def _compiled(self, compiler: Any) -> Any:
        start, end = self.source_expressions
        start_sql, start_params = compiler.compile(start)
        end_sql, end_params = compiler.compile(end)
        return start_sql, end_sql, (*end_params, *start_params)

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        start_sql, end_sql, params = self._compiled(compiler)
        return f"EXTRACT(EPOCH FROM ({end_sql} - {start_sql}))::float", params

    def as_sql(  # type: ignore[override]  # Func.as_sql takes more options, unused here
        self, compiler: Any, connection: Any, **extra_context: Any
    ) -> Any:
        # SQLite: julianday() keeps fractions of a second; stored values are UTC.
        start_sql, end_sql, params = self._compiled(compiler)
        return f"((julianday({end_sql}) - julianday({start_sql})) * 86400.0)", params


class _MedianAggregate:
    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: Any) -> None:
        if value is not None:
            self.values.append(float(value))

    def finalize(self) -> float | None:
        values = sorted(self.values)
        n = len(values)
        if not n:
            return None
        mid = (n - 1) / 2
        lo, hi = int(mid), min(int(mid) + 1, n - 1)
        return values[lo] + (values[hi] - values[lo]) * (mid - lo)


def register_sqlite_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("resolve_median", 1, _MedianAggregate)
