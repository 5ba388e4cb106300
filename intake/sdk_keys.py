"""The DSN key of an SDK request, with its project and intake settings, in one prepared
statement (intake/hotpath.py): read on every request, so revoking a key takes effect on the
next event; planned once per connection instead of the ORM's three-table query each time."""

from typing import Any

from django.db import connection, models

from projects.models import Project

from . import hotpath
from .models import DsnKey, IntakeSettings

_MODELS: tuple[type[models.Model], ...] = (DsnKey, Project, IntakeSettings)


def _fields(model: type[models.Model]) -> list[models.Field]:
    return list(model._meta.concrete_fields)


def _columns(alias: str, model: type[models.Model]) -> str:
    return ", ".join(f'{alias}."{field.column}"' for field in _fields(model))


# Table and column names come from the models' metadata, never from a request.
_SQL = (
    f"SELECT {_columns('k', DsnKey)}, {_columns('p', Project)}, "  # noqa: S608  # nosec B608
    f"{_columns('s', IntakeSettings)} "
    f'FROM "{DsnKey._meta.db_table}" k '
    f'JOIN "{Project._meta.db_table}" p ON p."id" = k."project_id" '
    f'LEFT JOIN "{IntakeSettings._meta.db_table}" s ON s."project_id" = k."project_id" '
    'WHERE k."public_key" = %s'
)


def _instance(model: type[models.Model], values: tuple[Any, ...]) -> models.Model:
    fields = _fields(model)
    converted = [
        field.from_db_value(value, None, connection)  # type: ignore[attr-defined]
        if value is not None and hasattr(field, "from_db_value")
        else value
        for field, value in zip(fields, values, strict=True)
    ]
    return model.from_db(connection.alias, [field.attname for field in fields], converted)


def dsn_key_with_settings(public_key: str) -> DsnKey | None:
    """The key (its `project` and, when the project has them, `project.intake_settings`
    loaded), or None when no key has this public part."""
    if connection.vendor != "postgresql":
        # SQLite (the embedded default) returns dates as text to raw cursors: the ORM
        # converts them. The raw statement is PostgreSQL's hot path.
        return (
            DsnKey.objects.select_related("project__intake_settings")
            .filter(public_key=public_key)
            .first()
        )
    row = hotpath.fetchone(_SQL, [public_key])
    if row is None:
        return None
    sizes = [len(_fields(model)) for model in _MODELS]
    key_values, project_values = row[: sizes[0]], row[sizes[0] : sizes[0] + sizes[1]]
    settings_values = row[sizes[0] + sizes[1] :]
    key = _instance(DsnKey, key_values)
    project = _instance(Project, project_values)
    key.project = project  # type: ignore[attr-defined]
    if settings_values[0] is not None:
        settings_row = _instance(IntakeSettings, settings_values)
        settings_row.project = project  # type: ignore[attr-defined]
        project.intake_settings = settings_row  # type: ignore[attr-defined]
    return key  # type: ignore[return-value]
