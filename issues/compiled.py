"""Fixed-shape ORM reads compiled once per database connection, run with new values after.

The issue page runs ~20 statements whose shape never changes between views (the same tables,
joins, filters and order; only the issue's id or key differs), and Django compiles each anew
on every view: ~0.5 ms of Python apiece, more than most of them cost PostgreSQL. A
`CompiledRead` asks the ORM once for the SQL of a queryset built from stand-in values, notes
which parameter is which argument, and from then on runs that SQL with the real values and
builds the instances exactly as the ORM's own iterator does (`from_db`, the fields' database
converters, select_related's related populators, annotations).

The ORM stays the source of the SQL: a read is written as an ordinary queryset, and
`tests/issues/test_compiled.py` checks that each read gives what its queryset gives.
"""

from collections.abc import Callable
from typing import Any
from weakref import ref as weak_ref

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable, get_related_populators

# Stand-ins for the arguments while the ORM compiles: in range for any integer column (an
# out-of-range value would make the ORM compile an empty result) and unlike any real value.
_INT_STANDIN = 2_000_000_000
_STR_STANDIN = "\x1fresolve-compiled-{}\x1f"


class ShapeError(RuntimeError):
    """The queryset does not have a fixed shape (a value did not become one parameter)."""


class _Plan:
    """One read's compiled SQL on one connection, and how to build its rows."""

    def __init__(self, queryset: QuerySet, standins: list[Any], db: str) -> None:
        if queryset._iterable_class is not ModelIterable or queryset._prefetch_related_lookups:  # type: ignore[attr-defined]
            raise ShapeError("only plain model reads (select_related at most) are compiled")
        if queryset._known_related_objects:  # type: ignore[attr-defined]
            raise ShapeError("build the read from a model's manager, not a related manager")
        compiler = queryset.query.get_compiler(using=db)
        sql, params = compiler.as_sql()
        # (argument index or None, the parameter's type: the backend may wrap an int, e.g.
        # psycopg's Int4, or the constant itself)
        slots: list[tuple[int | None, Any]] = []
        for param in params:
            index = next(
                (
                    i
                    for i, s in enumerate(standins)
                    if isinstance(param, type(s)) and not isinstance(param, bool) and s == param
                ),
                None,
            )
            slots.append((index, type(param)) if index is not None else (None, param))
        used = {index for index, _ in slots if index is not None}
        if used != set(range(len(standins))):
            raise ShapeError("every argument must become exactly the parameter it is")
        self.sql, self.slots, self.compiler, self.db = sql, slots, compiler, db
        klass_info, select = compiler.klass_info, compiler.select
        self.model = klass_info["model"]
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.init_list = [f[0].target.attname for f in select[self.start : self.end]]
        fetch_mode = queryset._fetch_mode  # type: ignore[attr-defined]
        self.fetch_mode = fetch_mode
        self.populators = get_related_populators(klass_info, select, db, fetch_mode)
        self.annotations = compiler.annotation_col_map

    def run(self, args: tuple) -> list:
        params = [value if index is None else value(args[index]) for index, value in self.slots]
        with connections[self.db].cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        found: list = []
        peers: list = []
        track_peers = self.fetch_mode.track_peers
        for row in self.compiler.results_iter([rows]):
            obj = self.model.from_db(
                self.db, self.init_list, row[self.start : self.end], fetch_mode=self.fetch_mode
            )
            if track_peers:
                peers.append(weak_ref(obj))
                obj._state.peers = peers
            for populator in self.populators:
                populator.populate(row, obj)
            for name, position in (self.annotations or {}).items():
                setattr(obj, name, row[position])
            found.append(obj)
        return found


class CompiledRead[M: Model]:
    """`CompiledRead(build)`: `build(*args)` returns the queryset for these argument values and
    must not branch on them (each value must end up as one parameter of the SQL; a read whose
    shape differs by case is two reads). `read.rows(*args)` gives the list the queryset would (the API of
    `accounts.compiled` on branch list2, written in parallel: one of the two should go at merge)."""

    def __init__(self, build: Callable[..., QuerySet[M]]) -> None:
        self.build = build

    def _standins(self, args: tuple) -> list[Any]:
        standins: list[Any] = []
        for i, arg in enumerate(args):
            if isinstance(arg, bool) or not isinstance(arg, int | str):
                raise ShapeError("arguments are ids and keys: int or str")
            standins.append(_INT_STANDIN + i if isinstance(arg, int) else _STR_STANDIN.format(i))
        return standins

    def rows(self, *args: Any, using: str = DEFAULT_DB_ALIAS) -> list[M]:
        connection = connections[using]
        # Per connection object (one per thread): its compiler and converters are its own.
        plans: dict[tuple, _Plan] = connection.__dict__.setdefault("_resolve_compiled_reads", {})
        key = (id(self), tuple(type(a) for a in args))
        plan = plans.get(key)
        if plan is None:
            standins = self._standins(args)
            plan = _Plan(self.build(*standins), standins, using)
            plans[key] = plan
        return plan.run(args)
