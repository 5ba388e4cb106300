"""`{{ form|lean_form }}`: crispy-forms' Bootstrap 5 markup for small forms, built in Python.

The issue page renders one form per available transition (and the hold form); through
crispy each field is a dozen nested templates and every `<option>` of the owner select an
included template: a fifth of the issue page's time with a project of 40 developers. The
markup is crispy's (same ids, classes, required asterisk, `is-invalid`, error and help ids),
so pages, scripts and tests see no difference. Fields whose widget is not one of the simple
kinds below make the whole form fall back to crispy.
"""

from __future__ import annotations

from html import escape

from crispy_forms.templatetags.crispy_forms_filters import as_crispy_form
from django import forms, template
from django.forms.boundfield import BoundField
from django.forms.widgets import Input
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_CONTROL_CLASS = {
    forms.TextInput: "textinput form-control",
    forms.Textarea: "textarea form-control",
    forms.Select: "select form-select",
}


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _simple(bound: BoundField) -> bool:
    widget = type(bound.field.widget)
    return widget is forms.HiddenInput or widget in _CONTROL_CLASS


def _select(bound: BoundField, attrs: dict[str, object]) -> str:
    """A `<select>` with its options, without a template per option."""
    value = bound.value()
    chosen = {"" if value is None else str(value)}
    parts = [
        f'<select name="{_e(bound.html_name)}"'
        + "".join(
            f" {name}" if val is True else f' {name}="{_e(val)}"'
            for name, val in attrs.items()
            if val is not False and val is not None
        )
        + ">"
    ]
    for option_value, label in bound.field.choices:
        if isinstance(label, list | tuple):  # an optgroup: not a simple select
            raise _NotSimple
        key = "" if option_value is None else str(option_value)
        selected = " selected" if key in chosen else ""
        parts.append(f'<option value="{_e(key)}"{selected}>{_e(label)}</option>')
    parts.append("</select>")
    return " ".join(parts)


class _NotSimple(Exception):
    pass


_ASTERISK = '<span class="asteriskField">*</span>'


def _h(value: object) -> str:
    # conditional_escape: what the widget templates' autoescape does.
    html = getattr(value, "__html__", None)
    return html() if html is not None else escape(str(value), quote=True)


def _widget(bound: BoundField, attrs: dict[str, object]) -> str:
    """`bound.as_widget(attrs=attrs)` for a text box, a textarea or a hidden input, as
    Django's input.html / textarea.html / attrs.html write it, without rendering them."""
    widget = bound.field.widget
    if bound.field.show_hidden_initial or bound.form.is_bound and bound.field.disabled:
        return str(bound.as_widget(attrs=attrs))
    attrs = bound.build_widget_attrs(dict(attrs), widget)
    if bound.auto_id and "id" not in widget.attrs:
        attrs.setdefault("id", bound.auto_id)
    final = widget.build_attrs(widget.attrs, attrs)
    shown = widget.format_value(bound.value())
    attrs_html = "".join(
        f" {name}" if value is True else f' {name}="{_h(value)}"'
        for name, value in final.items()
        if value is not False
    )
    if isinstance(widget, forms.Textarea):
        return (
            f'<textarea name="{_h(bound.html_name)}"{attrs_html}>\n'
            f"{_h(shown) if shown else ''}</textarea>"
        )
    input_type = widget.input_type if isinstance(widget, Input) else "text"
    value_html = f' value="{_h(shown)}"' if shown is not None else ""
    return f'<input type="{_h(input_type)}" name="{_h(bound.html_name)}"{value_html}{attrs_html}>'


def _field(bound: BoundField) -> str:
    if isinstance(bound.field.widget, forms.HiddenInput):
        return _widget(bound, {})
    errors = bound.errors
    widget_type = type(bound.field.widget)
    classes = _CONTROL_CLASS[widget_type]
    existing = bound.field.widget.attrs.get("class")
    if existing:
        classes = f"{classes} {existing}"
    attrs: dict[str, object] = {"class": f"{classes} is-invalid" if errors else classes}
    attrs.update(bound.build_widget_attrs({}))  # required, disabled: in crispy's order
    described = []
    if errors:
        attrs["aria-invalid"] = "true"
    if bound.help_text:
        described.append(f"{bound.auto_id}_helptext")
    if errors:
        described.append(f"{bound.auto_id}_error")
    if described:
        attrs["aria-describedby"] = " ".join(described)
    if widget_type is forms.Select:
        attrs["id"] = bound.auto_id
        control = _select(bound, attrs)
    else:
        control = _widget(bound, attrs)
    required = bound.field.required
    label = (
        f'<label for="{_e(bound.id_for_label)}" class="form-label'
        f'{" requiredField" if required else ""}">{_e(bound.label)}'
        f"{_ASTERISK if required else ''}</label>"
    )
    error_html = ""
    if errors:
        items = "".join(
            f'<p id="error_{i}_{_e(bound.auto_id)}"><strong>{_e(error)}</strong></p>'
            for i, error in enumerate(errors, start=1)
        )
        error_html = f'<div id="{_e(bound.auto_id)}_error" class="invalid-feedback">{items}</div>'
    # Help texts are the developers' markup (crispy prints them |safe too).
    help_html = (
        f'<div id="{_e(bound.auto_id)}_helptext" class="form-text">{bound.help_text}</div>'
        if bound.help_text
        else ""
    )
    return (
        f'<div id="div_{_e(bound.auto_id)}" class="mb-3">{label} {control} '
        f"{error_html}{help_html}</div>"
    )


@register.filter
def lean_form(form: forms.BaseForm) -> SafeString:
    """The form as crispy's `|crispy` filter renders it (Bootstrap 5), built in Python."""
    bound_fields = list(form)
    if not all(_simple(bound) for bound in bound_fields):
        return as_crispy_form(form)
    try:
        fields = [_field(bound) for bound in bound_fields]
    except _NotSimple:
        return as_crispy_form(form)
    non_field = form.non_field_errors()
    head = ""
    if non_field:
        items = "".join(f"<li>{_e(error)}</li>" for error in non_field)
        head = f'<div class="alert alert-block alert-danger"><ul class="m-0">{items}</ul></div>'
    # Every value above is escaped; the widgets render themselves through Django (escaped).
    return mark_safe(head + " ".join(fields))  # noqa: S308  # nosec B308 B703
