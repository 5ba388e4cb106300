"""Reads of a fixed shape, built and compiled by the ORM once per process.

Django builds and compiles a queryset anew every time it runs: resolving the lookups and
joins, then writing the SQL, costs ~0.2-0.5 ms of Python per statement, usually more than
PostgreSQL takes to run it. Every page runs the same few small reads (the signed-in user,
the visible projects, the bell's count, the saved filters, …) whose SQL differs only in
the values bound. A `CompiledRead` builds its queryset once per database and shape with
placeholder values, keeps the SQL the ORM wrote and where each placeholder went among its
parameters, and then only binds the values of each call. The rows are still built by the
ORM's own iterables from the compiler that wrote the SQL (converters, `select_related`,
annotations, `values_list`), and the statement runs through Django's cursor (counted by
query-count tests, seen by `execute_wrapper`, wrapped in its errors).

A value is an int, a str, a timezone-aware datetime, or a tuple of ints (an `IN` list: its
length is part of the shape). The ORM must pass each value through as a parameter (it does
for lookups on columns); a value it folds into the SQL text (a slice's LIMIT, say) belongs
in the builder itself. This module sits at the bottom of the layers, so every app may use
it; tests compare each read with its queryset run the ordinary way.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import QuerySet

Value = int | str | datetime | tuple[int, ...]

# Placeholders: values no real row holds and no caller passes (ints just under 2**31, so in
# range for every integer column the ORM range-checks: out of range, it would compile an empty
# result instead of SQL; strings with NUL characters; datetimes in year 1, a microsecond apart).
_INT_BASE = 2_147_000_000
_DATE_BASE = datetime(1, 1, 2, tzinfo=UTC)


def _marker(slot: int, item: int, kind: type) -> Any:
    if kind is int:
        return _INT_BASE - slot * 10_000 - item  # 2,146,9xx,xxx: no real id or number
    if kind is str:
        return f"\x00slot-{slot}-{item}\x00"
    return _DATE_BASE + timedelta(microseconds=slot * 10_000 + item)


def _kind(value: Any) -> type:
    if isinstance(value, bool):
        raise TypeError("CompiledRead values are ints, strs, datetimes or tuples of ints.")
    for kind in (int, str, datetime):
        if isinstance(value, kind):
            return kind
    raise TypeError(f"CompiledRead cannot bind a {type(value).__name__}.")


class _Shape:
    """One compiled statement: its SQL, its parameters with the placeholders' positions, and
    the compiler that wrote it (for building the rows)."""

    def __init__(self, queryset: QuerySet, markers: list[list[Any]], using: str) -> None:
        connection = connections[using]
        self.queryset = queryset
        self.compiler = queryset.query.get_compiler(using=using)
        try:
            self.sql, params = self.compiler.as_sql()
        except EmptyResultSet:
            if not any(isinstance(items, _ItemList) and not items for items in markers):
                # Only an empty IN list may make a read empty by its shape; anything else means
                # a placeholder did not reach the SQL as a value (a silent "no rows" forever).
                raise ValueError(
                    "CompiledRead: the read compiled to no SQL for its placeholders."
                ) from None
            self.sql, params = "", ()
        self.params = list(params)
        self.adapt: dict[int, Callable[[Any], Any]] = {}
        # (parameter position, slot, item) for every placeholder.
        self.bindings: list[tuple[int, int, int | None]] = []
        if not self.sql:
            return
        for slot, items in enumerate(markers):
            scalar = len(items) == 1 and not isinstance(items, _ItemList)
            for item, marker in enumerate(items):
                adapted = marker
                if isinstance(marker, datetime):
                    adapted = connection.ops.adapt_datetimefield_value(marker)
                    self.adapt[slot] = connection.ops.adapt_datetimefield_value
                found = [i for i, p in enumerate(self.params) if _same(p, adapted)]
                if isinstance(marker, int):
                    for i in found:
                        # psycopg's wrapper for a 32-bit column (Int4): bind values in it too.
                        if type(self.params[i]) is not int:
                            self.adapt[slot] = type(self.params[i])
                if not found:
                    raise ValueError(
                        f"CompiledRead: value {slot} does not reach the SQL as a parameter."
                    )
                self.bindings += [(i, slot, None if scalar else item) for i in found]

    def bind(self, values: Sequence[Any]) -> list[Any]:
        params = list(self.params)
        for position, slot, item in self.bindings:
            value = values[slot] if item is None else values[slot][item]
            adapt = self.adapt.get(slot)
            params[position] = adapt(value) if adapt is not None else value
        return params


def _same(param: Any, marker: Any) -> bool:
    if type(marker) is int:  # the backend may wrap an int (psycopg's Int4 for 32-bit columns)
        return isinstance(param, int) and not isinstance(param, bool) and int(param) == marker
    return type(param) is type(marker) and param == marker


class _ItemList(list):
    """The placeholders of a tuple value (an IN list), told apart from a scalar's."""


class _BoundQuery:
    """The template's Query for one run: hands the ORM's iterable a copy of the compiler that
    wrote the SQL, with this run's parameters and this thread's connection."""

    def __init__(self, shape: _Shape, params: list[Any], using: str) -> None:
        self._query = shape.queryset.query
        compiler = copy.copy(shape.compiler)
        compiler.connection = connections[using]
        sql = shape.sql
        compiler.as_sql = lambda *args, **kwargs: (sql, params)  # type: ignore[method-assign]
        self._compiler = compiler

    def get_compiler(
        self, using: Any = None, connection: Any = None, elide_empty: bool = True
    ) -> Any:
        return self._compiler

    def __getattr__(self, name: str) -> Any:
        return getattr(self._query, name)


class CompiledRead[T]:
    """`build(*values)` returns the queryset of a read (its shape: filters, joins, order,
    slice); `rows(*values)` runs it with those values, compiled once per database and shape.
    Call `build` with the values' placeholders only: no queries, no branching on a value
    (a branch on a tuple's length is fine: the length is part of the shape)."""

    def __init__(self, build: Callable[..., QuerySet[Any]], *, using: str = "default") -> None:
        self.build = build
        self.using = using
        self._shapes: dict[tuple, _Shape] = {}

    def _shape(self, values: Sequence[Value]) -> _Shape:
        connection = connections[self.using]
        kinds = tuple(
            ("list", len(v)) if isinstance(v, tuple | list) else _kind(v).__name__ for v in values
        )
        key = (connection.vendor, connection.settings_dict.get("NAME"), kinds)
        shape = self._shapes.get(key)
        if shape is None:
            markers: list[list[Any]] = []
            args: list[Any] = []
            for slot, value in enumerate(values):
                if isinstance(value, tuple | list):
                    items = _ItemList(_marker(slot, i, _kind(v)) for i, v in enumerate(value))
                    markers.append(items)
                    args.append(tuple(items))
                else:
                    marker = _marker(slot, 0, _kind(value))
                    markers.append([marker])
                    args.append(marker)
            shape = self._shapes[key] = _Shape(self.build(*args), markers, self.using)
        return shape

    def queryset(self, *values: Value) -> Any:
        """An unevaluated queryset of the read with these values bound (iterate it once)."""
        shape = self._shape(values)
        template: Any = shape.queryset
        qs: Any = QuerySet(model=template.model, using=self.using)
        if not shape.sql:
            return qs.none()
        # What QuerySet._clone() carries over, with the bound query instead of a copy.
        qs._query = _BoundQuery(shape, shape.bind(values), self.using)
        qs._iterable_class = template._iterable_class
        qs._fields = template._fields
        qs._prefetch_related_lookups = template._prefetch_related_lookups
        qs._fetch_mode = template._fetch_mode
        return qs

    def rows(self, *values: Value) -> list[T]:
        return list(self.queryset(*values))

    def first(self, *values: Value) -> T | None:
        found = self.rows(*values)
        return found[0] if found else None

    def count(self, *values: Value) -> int:
        """How many rows the read gives (`SELECT COUNT(*)` around its SQL)."""
        shape = self._shape(values)
        if not shape.sql:
            return 0
        with connections[self.using].cursor() as cursor:
            # ORM-compiled SQL, values as parameters.
            cursor.execute(f"SELECT COUNT(*) FROM ({shape.sql}) counted", shape.bind(values))  # noqa: S608  # nosec B608
            return int(cursor.fetchone()[0])
