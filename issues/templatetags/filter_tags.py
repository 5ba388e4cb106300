"""Template helpers of the list's filter bar and its pickers: sortable headers, filter chips,
options, check dropdowns, filter inputs built as Django builds them, the person picker.
`{% load issue_tags %}` also gives them (issue_tags registers this library's tags)."""

import json

from django import forms, template
from django.forms.widgets import Input
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from .escaping import _html

register = template.Library()

# Query parameters that are not filters (never shown as chips).
NOT_FILTERS = {"page", "sort", "per_page"}


@register.simple_tag(takes_context=True)
def sort_url(context, key: str) -> str:
    """The list URL sorted by `key`; clicking the current sort column reverses it."""
    params = context["request"].GET.copy()
    current = params.get("sort", "")
    params["sort"] = f"-{key}" if current == key else key
    params.pop("page", None)
    return f"?{params.urlencode()}"


@register.simple_tag(takes_context=True)
def sort_indicator(context, key: str) -> str:
    current = context["request"].GET.get("sort", "")
    if current == key:
        return format_html('<i class="bi bi-caret-{}-fill" aria-label="{}"></i>', "up", "ascending")
    if current == f"-{key}":
        return format_html(
            '<i class="bi bi-caret-{}-fill" aria-label="{}"></i>', "down", "descending"
        )
    return ""


@register.simple_tag(takes_context=True)
def filter_chips(context, filterset):
    """(label, value, url without it) for every active filter value."""
    request = context["request"]
    chips = []
    form = filterset.form
    for name, values in request.GET.lists():
        if name in NOT_FILTERS:
            continue
        ends = ("_after", "_before", "_min", "_max")
        base = name.rsplit("_", 1)[0] if name.endswith(ends) else name
        field = form.fields.get(base)
        if field is None:
            continue
        choices = dict((str(k), v) for k, v in getattr(field, "choices", []) or [])
        for value in values:
            if not value:
                continue
            params = request.GET.copy()
            params.setlist(name, [v for v in values if v != value])
            params.pop("page", None)
            label = field.label or base.title()
            if name.endswith("_after"):
                label += " from"
            elif name.endswith("_before"):
                label += " until"
            elif name.endswith("_min"):
                label += " at least"
            elif name.endswith("_max"):
                label += " at most"
            chips.append((label, choices.get(value, value), f"?{params.urlencode()}"))
    return chips


def _as_list(current) -> list[str]:
    if current is None:
        return []
    if isinstance(current, list | tuple):
        return [str(v) for v in current]
    return [str(current)]


@register.simple_tag
def select_options(choices, current=None):
    """<option>s for a select (rendered in Python: these lists are long and on every page)."""
    chosen = set(_as_list(current))
    options = []
    for value, label in choices:
        value = str(value)
        selected = " selected" if value in chosen else ""
        options.append(f'<option value="{_html(value)}"{selected}>{_html(label)}</option>')
    return mark_safe("".join(options))  # noqa: S308  # nosec B308 B703 - values escaped


@register.simple_tag
def check_options(name: str, choices, current=None):
    """Checkboxes with labels for a multiple-choice filter."""
    chosen = set(_as_list(current))
    name = _html(name)
    boxes = []
    for i, (value, label) in enumerate(choices):
        value = str(value)
        checked = " checked" if value in chosen else ""
        boxes.append(
            f'<div class="form-check"><input class="form-check-input" type="checkbox" '
            f'name="{name}" value="{_html(value)}" id="id_{name}_{i}"{checked}>'
            f'<label class="form-check-label" for="id_{name}_{i}">{_html(label)}</label></div>'
        )
    return mark_safe("".join(boxes))  # noqa: S308  # nosec B308 B703 - values escaped


@register.simple_tag
def filter_select(field, choices=None):
    """A filter's <select> (`choices` instead of the field's own when given)."""
    return format_html(
        '<select class="form-select form-select-sm{}" name="{}" id="{}">{}</select>',
        " is-invalid" if field.errors else "",
        field.html_name,
        field.id_for_label,
        select_options(choices or field.field.choices, field.value()),
    )


@register.simple_tag
def check_dropdown(field, label: str):
    """A multiple-choice filter as a dropdown of checkboxes; the button says how many are
    chosen."""
    chosen = field.value() or ""
    return format_html(
        '<div class="col-6 col-md-2 dropdown">\n'
        '  <span class="form-label small mb-0 d-block">{}</span>\n'
        '  <button class="btn btn-sm btn-outline-secondary dropdown-toggle w-100 text-start"'
        ' type="button" data-bs-toggle="dropdown" data-bs-auto-close="outside"'
        ' aria-expanded="false">{}</button>\n'
        '  <div class="dropdown-menu p-2 check-dropdown" role="group" aria-label="{}">{}</div>\n'
        "</div>",
        label,
        f"{len(chosen)} chosen" if chosen else "Any",
        label,
        check_options(field.html_name, field.field.choices, chosen),
    )


def _input_html(widget, name: str, value, id_: str, outer: dict | None = None) -> str:
    # Django's django/forms/widgets/input.html: type, name, value, then the widget's attrs
    # (a range's own attrs over its input's) with the id last (BoundField.as_widget adds it).
    shown = widget.format_value(value)
    attrs = {**widget.attrs, **(outer or {}), "id": id_}
    return (
        f'<input type="{_html(widget.input_type)}" name="{_html(name)}"'
        + (f' value="{_html(shown)}"' if shown is not None else "")
        + "".join(
            f" {_html(key)}" if val is True else f' {_html(key)}="{_html(val)}"'
            for key, val in attrs.items()
            if val is not False and val is not None
        )
        + ">"
    )


def _simple_input(widget) -> bool:
    return isinstance(widget, Input) and not isinstance(
        widget, forms.FileInput | forms.CheckboxInput
    )


@register.simple_tag
def filter_input(bound):
    """A filter bar's text, date or number box, or a from–to pair of them (django-filter's
    range widgets), as Django renders it (same markup), built in Python: through the form
    renderer each input is three template renders, a tenth of the list page. Anything
    unusual (errors, help text, a required or disabled field, another widget) is left to
    Django."""
    field, widget = bound.field, bound.field.widget
    plain = (
        bound.form.is_bound
        and not bound.errors
        and not bound.help_text
        and not field.required
        and not field.disabled
    )
    if plain and _simple_input(widget):
        return mark_safe(_input_html(widget, bound.html_name, bound.value(), bound.auto_id))  # noqa: S308  # nosec B308 B703 - escaped
    suffixes = getattr(widget, "suffixes", None)
    if (
        plain
        and isinstance(widget, forms.MultiWidget)
        and suffixes
        and len(widget.widgets) == 2
        and all(_simple_input(w) for w in widget.widgets)
        and getattr(widget, "template_name", "") == "django_filters/widgets/multiwidget.html"
    ):
        values = bound.value()
        if not isinstance(values, list):
            values = widget.decompress(values)
        parts = [
            _input_html(
                sub,
                widget.suffixed(bound.html_name, suffix),
                values[i] if i < len(values) else None,
                f"{bound.auto_id}_{i}",
                widget.attrs,
            )
            for i, (sub, suffix) in enumerate(zip(widget.widgets, suffixes, strict=True))
        ]
        return mark_safe("\n\n-".join(parts))  # noqa: S308  # nosec B308 B703 - escaped
    return str(bound)


PERSON_PLACEHOLDERS = {
    ("me", "unassigned"): "me, unassigned or a username",
    ("me",): "me or a username",
    ("unassigned",): "unassigned or a username",
}


@register.simple_tag
def person_picker(field=None, *, name: str = "", input_id: str = "", keywords=None):
    """A person box: a text input taking a keyword (`me`, `unassigned`) or a username, which
    static/js/people-picker.js turns into a searchable picker asking /projects/people.json.
    The page lists nobody, so its weight does not grow with the members; without JavaScript
    the box takes what is typed. `field` is a bound PersonField (the list's filters); or give
    `name`, `input_id` and `keywords` (e.g. "unassigned") for a plain one."""
    if field is not None:
        name, input_id = field.html_name, field.id_for_label
        raw = field.value() or ""
        keyword_pairs = list(field.field.keywords.items())
        labels = dict(getattr(field.field, "choices", []))
        invalid = bool(field.errors)
    else:
        raw, invalid, labels = "", False, {}
        keyword_pairs = [(k, k.title()) for k in (keywords or "").split(",") if k]
    placeholder = PERSON_PLACEHOLDERS.get(tuple(k for k, _ in keyword_pairs), "a username")
    return format_html(
        '<input type="text" class="form-control form-control-sm{}" name="{}" id="{}" '
        'value="{}" placeholder="{}" autocomplete="off" spellcheck="false" maxlength="150" '
        'data-people-picker="{}" data-people-keywords=\'{}\' data-people-current="{}">',
        " is-invalid" if invalid else "",
        name,
        input_id,
        raw,
        placeholder,
        reverse("people_search"),
        json.dumps(keyword_pairs),
        labels.get(str(raw), raw),
    )
