"""The two statements every intake request runs, executed as prepared statements.

Django binds parameters on the client and never prepares (so that transaction-mode poolers
keep working), so PostgreSQL parses and plans the intake statements anew for every event:
planning the repeat statement costs about as much as running it. Here they run on a psycopg
server-binding cursor with `prepare=True`: each connection plans them once and then reuses
the plan. Set INTAKE_PREPARED_STATEMENTS=false behind a pooler that cannot keep prepared
statements (PgBouncer before 1.21 in transaction mode); they then go through Django's cursor.

The per-request connection health check (`CONN_HEALTH_CHECKS`: a `SELECT 1` round trip) is
not paid here either: a persistent connection that died (PostgreSQL restarted) shows up as
an error on the first statement, which, outside a transaction only, is retried once on a new
connection. Inside a transaction nothing is retried (the caller's atomic block handles it).

When queries are being logged or wrapped (DEBUG, tests counting queries, execute_wrapper)
the statements go through Django's cursor, so that they are counted and seen like any other.
"""

import psycopg
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection


def _ordinary(sql: str, params: list) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


# Django opens connections with prepare_threshold=None, which disables `prepare=True` too;
# a threshold no other query reaches lets only the statements asked for here be prepared.
_ONLY_WHEN_ASKED = 2**31


def _prepared(sql: str, params: list) -> tuple | None:
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        raw.prepare_threshold = _ONLY_WHEN_ASKED
    with connection.wrap_database_errors:
        with psycopg.Cursor(raw) as cursor:
            cursor.execute(sql, params, prepare=True)
            return cursor.fetchone()


def _dead() -> bool:
    raw = connection.connection
    return raw is None or raw.closed or raw.broken


def fetchone(sql: str, params: list) -> tuple | None:
    """Run one statement and return its first row (None when there is none)."""
    if (
        connection.vendor != "postgresql"
        or not settings.INTAKE_PREPARED_STATEMENTS
        or connection.queries_logged
        or connection.execute_wrappers
    ):
        return _ordinary(sql, params)
    try:
        return _prepared(sql, params)
    except (OperationalError, InterfaceError):
        if connection.in_atomic_block or not _dead():
            raise
    # The persistent connection had died (e.g. PostgreSQL restarted): once more on a new one.
    connection.close()
    return _prepared(sql, params)
