"""The list's filters on custom fields, added to `issues.filters.IssueFilter` per request.

Each is in the query string under the field's slug (`cf_<slug>`; `cf_<slug>_min`/`_max` for
a number range, `cf_<slug>_after`/`_before` for a date range), so links and saved filters
carry them. A slug names the fields of that slug in every project the user sees, never one of
a project they cannot see. Each filter is one semi-join on an index led by the field (see
models.CustomFieldValue): `issue.id IN (SELECT issue_id … WHERE field_id IN … AND option_id
IN …)`.
"""

from __future__ import annotations

import django_filters
from django import forms

from .models import CustomFieldValue, FieldKind
from .selectors import FieldSpec, specs_by_slug

YES_NO = [("yes", "Yes"), ("no", "No")]


def _matching(qs, field_ids: list[int], **lookup):
    values = CustomFieldValue.objects.filter(field_id__in=field_ids, **lookup).values("issue_id")
    return qs.filter(pk__in=values)


class _ChoiceFilter(django_filters.MultipleChoiceFilter):
    def __init__(self, *args, field_ids: list[int], **kwargs):
        self.field_ids = field_ids
        kwargs.setdefault("widget", forms.CheckboxSelectMultiple)
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        chosen = sorted({int(v) for v in value})
        return _matching(qs, self.field_ids, option_id__in=chosen)


class _NumberRange(django_filters.RangeFilter):
    def __init__(self, *args, field_ids: list[int], **kwargs):
        self.field_ids = field_ids
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        lookup = {}
        if value.start is not None:
            lookup["number__gte"] = value.start
        if value.stop is not None:
            lookup["number__lte"] = value.stop
        return _matching(qs, self.field_ids, **lookup) if lookup else qs


class _DateRange(django_filters.DateFromToRangeFilter):
    def __init__(self, *args, field_ids: list[int], **kwargs):
        self.field_ids = field_ids
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        lookup = {}
        if value.start is not None:
            lookup["date__gte"] = value.start.date()
        if value.stop is not None:
            lookup["date__lte"] = value.stop.date()
        return _matching(qs, self.field_ids, **lookup) if lookup else qs


class _CheckboxFilter(django_filters.ChoiceFilter):
    def __init__(self, *args, field_ids: list[int], **kwargs):
        self.field_ids = field_ids
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value == "yes":
            return _matching(qs, self.field_ids, flag=True)
        if value == "no":
            ticked = CustomFieldValue.objects.filter(field_id__in=self.field_ids, flag=True)
            return qs.exclude(pk__in=ticked.values("issue_id"))
        return qs


class _UserFilter(django_filters.CharFilter):
    def __init__(self, *args, field_ids: list[int], **kwargs):
        self.field_ids = field_ids
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        value = (value or "").strip()
        if not value:
            return qs
        if value.lower() == "me" and self.parent is not None and self.parent.request:
            return _matching(qs, self.field_ids, user_id=self.parent.request.user.pk)
        return _matching(qs, self.field_ids, user__username=value)


class _TextFilter(django_filters.CharFilter):
    def __init__(self, *args, field_ids: list[int], **kwargs):
        self.field_ids = field_ids
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        value = (value or "").strip()
        if not value:
            return qs
        return _matching(qs, self.field_ids, text__icontains=value)


def _filter_for(name: str, specs: list[FieldSpec]):
    first = specs[0]
    ids = [s.pk for s in specs]
    label = first.name
    kind = first.kind
    if kind in (FieldKind.CHOICE, FieldKind.MULTI_CHOICE):
        choices: dict[int, str] = {}
        for s in specs:
            for pk, option in s.options:
                choices[pk] = option if len(specs) == 1 else f"{option} ({s.project_key})"
        return _ChoiceFilter(
            field_name=name, label=label, field_ids=ids, choices=list(choices.items())
        )
    if kind == FieldKind.NUMBER:
        return _NumberRange(field_name=name, label=label, field_ids=ids)
    if kind == FieldKind.DATE:
        return _DateRange(
            field_name=name,
            label=label,
            field_ids=ids,
            widget=django_filters.widgets.DateRangeWidget,
        )
    if kind == FieldKind.CHECKBOX:
        return _CheckboxFilter(
            field_name=name, label=label, field_ids=ids, choices=YES_NO, empty_label="Any"
        )
    if kind == FieldKind.USER:
        return _UserFilter(field_name=name, label=label, field_ids=ids)
    return _TextFilter(field_name=name, label=label, field_ids=ids)


def custom_filters(specs: list[FieldSpec]) -> dict[str, django_filters.Filter]:
    """{`cf_<slug>`: filter} for the fields the user sees; a slug whose fields differ in
    kind across projects filters on those of the first kind found."""
    out = {}
    for slug, group in specs_by_slug(specs).items():
        same_kind = [s for s in group if s.kind == group[0].kind]
        name = f"cf_{slug}"
        out[name] = _filter_for(name, same_kind)
    return out


def wants_custom_filters(data) -> bool:
    return data is not None and any(k.startswith("cf_") for k in data)


def style_widgets(form_fields: dict) -> None:
    for name, field in form_fields.items():
        if not name.startswith("cf_"):
            continue
        widget = field.widget
        if isinstance(widget, forms.MultiWidget):
            for end, sub in zip(("from", "to"), widget.widgets, strict=False):
                sub.attrs["class"] = "form-control form-control-sm"
                sub.attrs["aria-label"] = f"{field.label} {end}"
                if isinstance(field, django_filters.fields.DateRangeField):
                    sub.input_type = "date"
        elif isinstance(widget, forms.Select):
            widget.attrs["class"] = "form-select form-select-sm"
        elif not isinstance(widget, forms.CheckboxSelectMultiple):
            widget.attrs["class"] = "form-control form-control-sm"
