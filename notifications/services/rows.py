"""Writing notification rows: each row's email status, and bulk inserts that skip what exists."""

from collections.abc import Iterable, Sequence

from django.contrib.auth import get_user_model
from django.db import connection, models

from ..models import (
    EmailStatus,
    Mode,
    Notification,
)


def _email_status(mode: str, recipient_has_email: bool) -> str:
    if mode == Mode.IMMEDIATE and recipient_has_email:
        return EmailStatus.PENDING
    if mode == Mode.DIGEST and recipient_has_email:
        return EmailStatus.BATCHED
    return EmailStatus.NONE


def _users_with_email(user_ids: Iterable[int]) -> set[int]:
    return set(
        get_user_model()
        .objects.filter(id__in=set(user_ids))
        .exclude(email="")
        .values_list("id", flat=True)
    )


def _insert(notes: list[Notification]) -> None:
    """Insert notifications; one that already exists (unique constraints) is left alone."""
    bulk_insert(notes, ignore_conflicts=True)


def bulk_insert(objs: Sequence[models.Model], *, ignore_conflicts: bool = False) -> None:
    """`bulk_create` without signals; on PostgreSQL one `INSERT … SELECT FROM unnest(arrays)`.

    The sweep inserts thousands of rows per batch: one array parameter per column instead of
    one parameter per value keeps Django's SQL compilation and the driver's conversion cheap.
    """
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objs, ignore_conflicts=ignore_conflicts, batch_size=1000)
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
    params = [
        [f.get_db_prep_save(f.pre_save(obj, True), connection) for obj in objs] for f in fields
    ]
    conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {model._meta.db_table} ({columns}) "  # noqa: S608  # nosec B608
            f"SELECT * FROM unnest({arrays}){conflict}",
            params,
        )
