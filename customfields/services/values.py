"""Custom field values: clean what a form or the API gives, write the rows, record the change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.actors import Actor
from issues.models import EventKind, Issue, Status
from issues.services import IssueError, record_event
from projects.models import Project

from ..models import (
    LONG_TEXT_VALUE_MAX_CHARS,
    NUMBER_DECIMAL_PLACES,
    NUMBER_MAX_DIGITS,
    TEXT_VALUE_MAX_CHARS,
    URL_VALUE_MAX_CHARS,
    CustomField,
    CustomFieldOption,
    CustomFieldValue,
    FieldKind,
)
from ..selectors import display, fields_of, is_required_now, values_of

# What a field holds once cleaned: text, Decimal, date, bool, a user id, an option id, a set
# of option ids, or None (empty).
Clean = Any


class CustomFieldError(IssueError):
    """A refused custom field or value; `field` is the form field (`cf_<slug>`)."""


def form_field_name(field_: CustomField) -> str:
    return f"cf_{field_.slug}"


def _refuse(field_: CustomField, message: str) -> CustomFieldError:
    return CustomFieldError(f"{field_.name}: {message}", field=form_field_name(field_))


def _text(field_: CustomField, raw: Any, limit: int) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise _refuse(field_, "expected text.")
    text = raw.strip()
    if len(text) > limit:
        raise _refuse(field_, f"at most {limit:,} characters (this has {len(text):,}).")
    return text


def _number(field_: CustomField, raw: Any) -> Decimal | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal | str):
        raise _refuse(field_, "expected a number.")
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation:
        raise _refuse(field_, f"“{raw}” is not a number.") from None
    if not number.is_finite():
        raise _refuse(field_, f"“{raw}” is not a number.")
    whole = NUMBER_MAX_DIGITS - NUMBER_DECIMAL_PLACES
    if abs(number) >= Decimal(10) ** whole:
        raise _refuse(field_, f"at most {whole} digits before the decimal point.")
    quantized = number.quantize(Decimal(1).scaleb(-NUMBER_DECIMAL_PLACES))
    if quantized != number:
        raise _refuse(field_, f"at most {NUMBER_DECIMAL_PLACES} decimal places.")
    return quantized


def _date(field_: CustomField, raw: Any) -> dt.date | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, dt.datetime):
        raise _refuse(field_, "expected a date (YYYY-MM-DD), not a moment.")
    if isinstance(raw, dt.date):
        return raw
    if not isinstance(raw, str):
        raise _refuse(field_, "expected a date (YYYY-MM-DD).")
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise _refuse(field_, f"“{raw}” is not a date (YYYY-MM-DD).") from None


def _option(
    field_: CustomField, raw: Any, options: dict[int, CustomFieldOption], held: frozenset[int]
) -> int:
    """An option of this field by id, instance or label (the API sends labels); an archived
    one only when the issue already has it (`held`: kept, never newly chosen)."""
    if isinstance(raw, CustomFieldOption):
        raw = raw.pk
    if isinstance(raw, int) and not isinstance(raw, bool):
        found = options.get(raw)
    elif isinstance(raw, str):
        text = raw.strip()
        found = next((o for o in options.values() if o.label.lower() == text.lower()), None)
        if found is None and text.isdigit() and text.isascii() and len(text) < 19:
            found = options.get(int(text))
    else:
        raise _refuse(field_, "expected one of its choices.")
    if found is None or (found.archived_at is not None and found.pk not in held):
        choices = ", ".join(o.label for o in options.values() if o.archived_at is None)
        raise _refuse(field_, f"“{raw}” is not one of its choices ({choices}).")
    return found.pk


def _user(field_: CustomField, raw: Any) -> int | None:
    if raw is None or raw == "":
        return None
    user_model = get_user_model()
    if isinstance(raw, user_model):
        candidate = user_model.objects.filter(pk=raw.pk)
    elif isinstance(raw, str):
        candidate = user_model.objects.filter(username=raw.strip())
    elif isinstance(raw, int) and not isinstance(raw, bool):
        candidate = user_model.objects.filter(pk=raw)
    else:
        raise _refuse(field_, "expected a username.")
    found = (
        candidate.filter(is_active=True, memberships__project_id=field_.project_id)
        .values_list("pk", flat=True)
        .first()
    )
    if found is None:
        raise _refuse(field_, f"“{raw}” is not a member of this project.")
    return found


def _url(field_: CustomField, raw: Any) -> str:
    text = _text(field_, raw, URL_VALUE_MAX_CHARS)
    if not text:
        return ""
    try:
        URLValidator(schemes=["http", "https"])(text)
    except ValidationError:
        raise _refuse(field_, f"“{text}” is not a web address (http:// or https://).") from None
    return text


def clean_value(field_: CustomField, raw: Any, *, held: frozenset[int] = frozenset()) -> Clean:
    """One value, from a form's cleaned data or the API's JSON, as the field stores it
    (`held`: the options the issue has now, archived ones included)."""
    kind = field_.kind
    if kind == FieldKind.TEXT:
        return _text(field_, raw, TEXT_VALUE_MAX_CHARS)
    if kind == FieldKind.LONG_TEXT:
        return _text(field_, raw, LONG_TEXT_VALUE_MAX_CHARS)
    if kind == FieldKind.URL:
        return _url(field_, raw)
    if kind == FieldKind.NUMBER:
        return _number(field_, raw)
    if kind == FieldKind.DATE:
        return _date(field_, raw)
    if kind == FieldKind.CHECKBOX:
        if raw is None:
            return False
        if not isinstance(raw, bool):
            raise _refuse(field_, "expected true or false.")
        return raw
    if kind == FieldKind.USER:
        return _user(field_, raw)
    options = {o.pk: o for o in field_.options.all()}
    if kind == FieldKind.CHOICE:
        if raw is None or raw == "":
            return None
        return _option(field_, raw, options, held)
    # Multiple choice.
    if raw is None or raw == "":
        return frozenset()
    if not isinstance(raw, list | tuple | set | frozenset):
        raise _refuse(field_, "expected a list of its choices.")
    return frozenset(_option(field_, item, options, held) for item in raw)


def held_options(values: Mapping[int, list[CustomFieldValue]]) -> dict[int, frozenset[int]]:
    """{field id: the options an issue has} (archived choices it keeps may be sent back)."""
    return {
        field_id: frozenset(r.option_id for r in rows if r.option_id is not None)
        for field_id, rows in values.items()
    }


def _empty(field_: CustomField, value: Clean) -> bool:
    if field_.kind == FieldKind.CHECKBOX:
        return not value
    return value in (None, "", frozenset())


def clean_values(
    fields: Iterable[CustomField],
    raw: Mapping[str, Any],
    *,
    status: str = Status.NEW,
    partial: bool = False,
    project: Project | None = None,
    held: Mapping[int, frozenset[int]] | None = None,
) -> dict[CustomField, Clean]:
    """Check `raw` ({slug: value}) against `fields` (those the issue's project and type
    have). Unknown slugs are refused (a field of another project is unknown here). With
    `partial`, only the slugs given are checked and returned; else every field is, and a
    required one must be filled in. Raises CustomFieldError naming the field."""
    fields = list(fields)
    held = held or {}
    by_slug = {f.slug: f for f in fields}
    unknown = sorted(set(raw) - set(by_slug))
    if unknown:
        where = f" in {project.key}" if project is not None else ""
        raise CustomFieldError(
            f"No custom field “{unknown[0]}”{where} for this issue.",
            field=f"custom_fields.{unknown[0]}",
        )
    cleaned: dict[CustomField, Clean] = {}
    for f in fields:
        if partial and f.slug not in raw:
            continue
        value = clean_value(f, raw.get(f.slug), held=held.get(f.pk, frozenset()))
        if is_required_now(f, status) and _empty(f, value):
            raise _refuse(f, "this field is required.")
        cleaned[f] = value
    return cleaned


def _rows(issue: Issue, field_: CustomField, value: Clean) -> list[CustomFieldValue]:
    kind = field_.kind
    base = {"issue": issue, "field": field_}
    if _empty(field_, value) and kind != FieldKind.CHECKBOX:
        return []
    if kind in (FieldKind.TEXT, FieldKind.LONG_TEXT, FieldKind.URL):
        return [CustomFieldValue(**base, text=value)]
    if kind == FieldKind.NUMBER:
        return [CustomFieldValue(**base, number=value)]
    if kind == FieldKind.DATE:
        return [CustomFieldValue(**base, date=value)]
    if kind == FieldKind.CHECKBOX:
        return [CustomFieldValue(**base, flag=bool(value))]
    if kind == FieldKind.USER:
        return [CustomFieldValue(**base, user_id=value)]
    if kind == FieldKind.CHOICE:
        return [CustomFieldValue(**base, option_id=value)]
    return [CustomFieldValue(**base, option_id=pk) for pk in sorted(value)]


def _same(field_: CustomField, old: list[CustomFieldValue], value: Clean) -> bool:
    kind = field_.kind
    if kind == FieldKind.MULTI_CHOICE:
        return {r.option_id for r in old} == set(value)
    if not old:
        return _empty(field_, value)
    row = old[0]
    current: Any = {
        FieldKind.NUMBER: row.number,
        FieldKind.DATE: row.date,
        FieldKind.CHECKBOX: bool(row.flag),
        FieldKind.USER: row.user_id,
        FieldKind.CHOICE: row.option_id,
    }.get(FieldKind(kind), row.text)
    return current == value


def write_values(
    issue: Issue, cleaned: Mapping[CustomField, Clean], *, actor: Actor, record: bool = True
) -> list[str]:
    """Store cleaned values (inside the caller's transaction) and record one CHANGED event
    per changed field, old → new in labels, like the built-in fields. Returns the changed
    slugs."""
    if not cleaned:
        return []
    current = values_of(issue)
    changed = []
    for f, value in cleaned.items():
        old = current.get(f.pk, [])
        if _same(f, old, value):
            continue
        new_rows = _rows(issue, f, value)
        CustomFieldValue.objects.filter(issue=issue, field=f).delete()
        CustomFieldValue.objects.bulk_create(new_rows)
        if record:
            # Labels as they read now: a renamed choice or person keeps its old record.
            for row in new_rows:
                if row.option_id is not None:
                    row.option = next(o for o in f.options.all() if o.pk == row.option_id)
            new_text = display(f, new_rows) if new_rows else ""
            record_event(
                issue,
                EventKind.CHANGED,
                actor=actor,
                field=f"cf:{f.slug}"[:40],
                old=display(f, old),
                new=new_text,
                data={"custom_field_id": f.pk, "label": f.name},
            )
        changed.append(f.slug)
    return changed


def bump_version(issue: Issue) -> None:
    """A change of custom values only: the issue's version and updated time move on."""
    now = timezone.now()
    Issue.objects.filter(pk=issue.pk).update(version=F("version") + 1, updated_at=now)
    issue.version += 1
    issue.updated_at = now


def set_custom_values(issue: Issue, *, actor: Actor, values: Mapping[str, Any]) -> list[str]:
    """Change some custom values of an issue (the API): only the slugs given; a slug that is
    no live field of the issue's project and type is refused. Returns the changed slugs."""
    with transaction.atomic():
        locked = Issue.objects.select_for_update(of=("self",)).get(pk=issue.pk)
        cleaned = clean_values(
            fields_of(issue.project, locked.type),
            values,
            status=locked.status,
            partial=True,
            project=issue.project,
            held=held_options(values_of(locked)),
        )
        changed = write_values(locked, cleaned, actor=actor)
        if changed:
            bump_version(issue)
    return changed
