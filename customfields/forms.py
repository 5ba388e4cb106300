"""Custom fields on the issue forms (built from the project's definitions) and the settings
form that defines them. The forms check shape; `services.clean_values` is the rule."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model

from issues.models import IssueType, Status

from .models import (
    LONG_TEXT_VALUE_MAX_CHARS,
    NAME_MAX_CHARS,
    SLUG_MAX_CHARS,
    TEXT_VALUE_MAX_CHARS,
    URL_VALUE_MAX_CHARS,
    CustomField,
    CustomFieldValue,
    FieldKind,
)
from .selectors import is_required_now
from .services import CustomFieldError, clean_value, form_field_name, held_options


def _members(field_: CustomField):
    return (
        get_user_model()
        .objects.filter(is_active=True, memberships__project_id=field_.project_id)
        .order_by("username")
    )


def form_field(
    field_: CustomField,
    *,
    status: str = Status.NEW,
    preview: bool = False,
    held: frozenset[int] = frozenset(),
):
    """The Django form field of a custom field (also the settings page's preview); `held`:
    options the issue has, offered even when archived (else saving would drop them)."""
    required = is_required_now(field_, status)
    help_text = field_.help_text
    if field_.required and field_.required_from:
        note = f"Required from {Status(field_.required_from).label} on."
        help_text = f"{help_text} {note}".strip()
    common: dict[str, Any] = {"label": field_.name, "required": required, "help_text": help_text}
    kind = field_.kind
    if kind == FieldKind.TEXT:
        return forms.CharField(max_length=TEXT_VALUE_MAX_CHARS, **common)
    if kind == FieldKind.LONG_TEXT:
        return forms.CharField(
            max_length=LONG_TEXT_VALUE_MAX_CHARS, widget=forms.Textarea(attrs={"rows": 3}), **common
        )
    if kind == FieldKind.URL:
        return forms.URLField(max_length=URL_VALUE_MAX_CHARS, assume_scheme="https", **common)
    if kind == FieldKind.NUMBER:
        return forms.DecimalField(max_digits=18, decimal_places=4, **common)
    if kind == FieldKind.DATE:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if kind == FieldKind.CHECKBOX:
        return forms.BooleanField(**common)
    if kind == FieldKind.USER:
        if preview:
            choices = [("", "—"), ("", "(the project's members)")]
        else:
            choices = [("", "—"), *((u.pk, u.username) for u in _members(field_))]
        return forms.TypedChoiceField(choices=choices, coerce=int, empty_value=None, **common)
    options = [
        (o.pk, o.label if o.archived_at is None else f"{o.label} (archived)")
        for o in field_.options.all()
        if o.archived_at is None or o.pk in held
    ]
    if kind == FieldKind.CHOICE:
        return forms.TypedChoiceField(
            choices=[("", "—"), *options], coerce=int, empty_value=None, **common
        )
    return forms.TypedMultipleChoiceField(
        choices=options, coerce=int, widget=forms.CheckboxSelectMultiple, **common
    )


def initial_of(field_: CustomField, rows: list[CustomFieldValue]) -> Any:
    if field_.kind == FieldKind.MULTI_CHOICE:
        return [r.option_id for r in rows]
    if not rows:
        return None
    row = rows[0]
    return {
        FieldKind.NUMBER: row.number,
        FieldKind.DATE: row.date,
        FieldKind.CHECKBOX: bool(row.flag),
        FieldKind.USER: row.user_id,
        FieldKind.CHOICE: row.option_id,
    }.get(field_.kind, row.text)


def add_custom_fields(
    form: forms.Form,
    fields: list[CustomField],
    *,
    status: str = Status.NEW,
    values: dict[int, list[CustomFieldValue]] | None = None,
    initial: bool = True,
) -> None:
    """Append the fields to an issue form (`cf_<slug>`), with the issue's `values` as initial
    data (`initial`) and its archived choices still offered; `custom_values(form)` then gives
    {slug: value} for the services."""
    form.custom_fields = fields  # type: ignore[attr-defined]
    form.held_options = held = held_options(values or {})  # type: ignore[attr-defined]
    for f in fields:
        name = form_field_name(f)
        form.fields[name] = form_field(f, status=status, held=held.get(f.pk, frozenset()))
        if values is not None and initial:
            form.initial[name] = initial_of(f, values.get(f.pk, []))


def custom_values(form: forms.Form) -> dict[str, Any]:
    """{slug: cleaned value} of the custom fields added to a valid form."""
    return {
        f.slug: form.cleaned_data.get(form_field_name(f))
        for f in getattr(form, "custom_fields", [])
    }


def check_custom_fields(form: forms.Form) -> None:
    """Run the service's checks on each value so that a refusal shows next to its field
    (the service checks again when saving)."""
    for f in getattr(form, "custom_fields", []):
        name = form_field_name(f)
        if name not in form.cleaned_data:
            continue
        try:
            held = getattr(form, "held_options", {}).get(f.pk, frozenset())
            clean_value(f, form.cleaned_data[name], held=held)
        except CustomFieldError as error:
            form.add_error(name, str(error))


def custom_bound_fields(form: forms.Form) -> list:
    return [form[form_field_name(f)] for f in getattr(form, "custom_fields", [])]


# --- the settings form ----------------------------------------------------------------------


class CustomFieldForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX_CHARS)
    slug = forms.CharField(
        max_length=SLUG_MAX_CHARS,
        help_text="The stable name in the API, links and templates: lower-case letters, digits "
        "and _. It cannot be changed later.",
    )
    kind = forms.ChoiceField(choices=FieldKind.choices)
    options = forms.CharField(
        label="Choices",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Single and multiple choice: one per line, in order. A choice you remove is "
        "archived (issues keep it).",
    )
    help_text = forms.CharField(max_length=200, required=False)
    required = forms.BooleanField(required=False)
    required_from = forms.ChoiceField(
        label="Required from",
        required=False,
        choices=[("", "Always (on the forms)"), *Status.choices[1:]],
        help_text="Or only from a transition into this status on (e.g. before Assigned).",
    )
    issue_types = forms.MultipleChoiceField(
        choices=IssueType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every type.",
    )
    order = forms.IntegerField(min_value=0, max_value=32_000, initial=0)

    def __init__(self, *args, field: CustomField | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.editing = field
        if field is not None:
            # Slug and kind are fixed once values exist.
            self.fields["slug"].disabled = True
            self.fields["kind"].disabled = True
            self.fields["slug"].required = False
            self.fields["kind"].required = False
