"""Template helpers of the issue pages: Markdown, badges, list rows, sortable headers, filter
chips."""

import html
import json
from functools import cache

from django import forms, template
from django.forms.widgets import Input
from django.template.defaultfilters import filesizeformat, linebreaksbr
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from accounts.templatetags.resolve import when, when_renderer
from issues.markdown import render_markdown
from issues.models import IssueType, Priority, Severity, Status
from playbooks.templatetags.playbook_tags import progress_badge
from workflows.activity import describe_event
from workflows.selectors import times_left
from workflows.templatetags.workflow_tags import render_sla_badge

register = template.Library()

TYPE_ICONS = {
    IssueType.BUG: "bug",
    IssueType.PERFORMANCE: "speedometer2",
    IssueType.UI_UX: "palette",
    IssueType.COMPATIBILITY: "window-stack",
    IssueType.COMPLIANCE: "clipboard-check",
    IssueType.SEO: "search",
    IssueType.SECURITY: "shield-lock",
    IssueType.TASK: "check2-square",
}
PRIORITY_ICONS = {1: "arrow-down", 2: "arrow-right", 3: "arrow-up"}
SEVERITY_CLASSES = {1: "sev-trivial", 2: "sev-minor", 3: "sev-major", 4: "sev-critical"}
# Plain dicts: get_FOO_display() re-flattens the choices on every call (hot in list rows).
TYPE_LABELS = dict(IssueType.choices)
PRIORITY_LABELS = dict(Priority.choices)
SEVERITY_LABELS = dict(Severity.choices)
STATUS_LABELS = dict(Status.choices)
# Query parameters that are not filters (never shown as chips).
NOT_FILTERS = {"page", "sort", "per_page"}


@register.filter
def markdown(text: str):
    """Markdown rendered to sanitised HTML."""
    return render_markdown(text or "")


def _html(value) -> str:
    """conditional_escape() for the hot paths below: Django's escape() wraps html.escape in a
    lazy-string check that costs more than the escaping, thousands of times a page."""
    return value.__html__() if hasattr(value, "__html__") else html.escape(str(value))


# Badges depend on one value only: built once per value, not once per row.
@cache
def _type_icon(value: str) -> SafeString:
    label = TYPE_LABELS.get(value, value)
    return format_html(
        '<i class="bi bi-{}" title="{}" aria-hidden="true"></i><span class="visually-hidden">{}</span>',
        TYPE_ICONS.get(value, "circle"),
        label,
        label,
    )


@cache
def _priority_badge(value: int) -> SafeString:
    return format_html(
        '<span class="prio prio-{}"><i class="bi bi-{}" aria-hidden="true"></i> {}</span>',
        value,
        PRIORITY_ICONS.get(value, "dash"),
        PRIORITY_LABELS.get(value, value),
    )


@cache
def _severity_badge(value: int) -> SafeString:
    return format_html(
        '<span class="badge {}">{}</span>',
        SEVERITY_CLASSES.get(value, "text-bg-secondary"),
        SEVERITY_LABELS.get(value, value),
    )


@cache
def _status_badge(value: str) -> SafeString:
    return format_html(
        '<span class="badge status-badge status-{}">{}</span>',
        value,
        STATUS_LABELS.get(value, value),
    )


@register.simple_tag
def type_icon(issue):
    return _type_icon(issue.type)


@register.simple_tag
def priority_badge(issue):
    return _priority_badge(issue.priority)


@register.simple_tag
def severity_badge(issue):
    return _severity_badge(issue.severity)


_KEY_SLOT = "KEY-0"
_ROW = (
    '<tr data-row-link="{url}">\n'
    '  <td><input class="form-check-input bulk-select" type="checkbox" name="issues" value="{pk}"'
    ' form="bulk-form" aria-label="Select {key}"></td>\n'
    '  <td class="issue-key"><a href="{url}">{key}</a></td>\n'
    '  <td>{type_icon} <a class="issue-title" href="{url}">{title}</a> {progress}{component}{labels}</td>\n'
    "  <td>{priority}</td>\n"
    "  <td>{severity}</td>\n"
    "  <td>{status}</td>\n"
    "  <td>{owner}</td>\n"
    "  <td>{sla}</td>\n"
    '  <td class="small">{updated}</td>\n'
    "{custom}"
    "</tr>\n"
)
_CUSTOM_CELL = '  <td class="small">{}</td>\n'
_LABEL = '<span class="badge rounded-pill text-bg-light border ms-1">{}</span>'
_COMPONENT = (
    '<span class="badge text-bg-secondary ms-1 issue-component" title="Component">'
    '<i class="bi bi-puzzle" aria-hidden="true"></i> {}</span>'
)
_OWNER = (
    '<span class="avatar" title="{}" aria-hidden="true">{}</span> <span class="small">{}</span>'
)
_UNASSIGNED = '<span class="text-body-secondary small">Unassigned</span>'


def _labels(issue):
    # The list prefetches them as a plain list (`label_list`); anything else reads the relation.
    labels = getattr(issue, "label_list", None)
    return issue.labels.all() if labels is None else labels


@register.simple_tag
def issue_rows(issues, custom_cells=None) -> SafeString:
    """The issue list's table rows (columns as in the header of issues/list.html), rendered in
    Python: as a template loop each row cost ~25 node renders and a reverse(), a third of the
    page. Expects `project`, `owner`, `component` joined and the labels prefetched;
    `custom_cells` are the texts of the custom columns switched on, by issue id
    (customfields.selectors.cells_for)."""
    custom_cells = custom_cells or {}
    # Issue keys need no URL quoting: reverse() once, then put each key in the slot.
    url_pattern = reverse("issue_detail", args=[_KEY_SLOT])
    owners: dict[int | None, str] = {None: _UNASSIGNED}
    rows = []
    issues = list(issues)
    # Time left in each issue's own business time: one query for the projects' policies.
    left = times_left(issues)
    updated = when_renderer()
    for issue in issues:
        key = issue.key
        owner = owners.get(issue.owner_id)
        if owner is None:
            person = issue.owner
            owner = owners[issue.owner_id] = _OWNER.format(
                _html(person), _html(person.initials), _html(person.username)
            )
        rows.append(
            _ROW.format(
                url=url_pattern.replace(_KEY_SLOT, key),
                pk=issue.pk,
                key=_html(key),
                type_icon=_type_icon(issue.type),
                title=_html(issue.title),
                component=_COMPONENT.format(_html(issue.component.name))
                if issue.component_id
                else "",
                labels="".join(_LABEL.format(_html(label.name)) for label in _labels(issue)),
                progress=progress_badge(
                    getattr(issue, "checklist_done", None), getattr(issue, "checklist_total", None)
                ),
                priority=_priority_badge(issue.priority),
                severity=_severity_badge(issue.severity),
                status=_status_badge(issue.status),
                owner=owner,
                sla=render_sla_badge(issue, left[issue.pk]),
                updated=updated(issue.updated_at),
                custom="".join(
                    _CUSTOM_CELL.format(_html(text) if text else "—")
                    for text in custom_cells.get(issue.pk, ())
                ),
            )
        )
    return mark_safe("".join(rows))  # noqa: S308  # nosec B308 B703 - every value escaped above


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


_COMMENT = (
    '        <li class="card mb-2 timeline-comment" id="comment-{pk}">\n'
    '          <div class="card-header py-1 small d-flex gap-2 align-items-center">\n'
    '            <span class="avatar" aria-hidden="true">{initials}</span> <strong>{author}</strong>'
    " commented {when}\n"
    "          </div>\n"
    '          <div class="card-body py-2 markdown-body">{body}\n'
    "            {attachments}\n"
    "          </div>\n"
    "        </li>\n"
)
_ATTACHMENTS = '<ul class="list-unstyled small mb-0 attachment-list">{}</ul>'
_ATTACHMENT = (
    '<li><i class="bi bi-paperclip" aria-hidden="true"></i> <a href="{url}" download>{name}</a>'
    ' <span class="text-body-secondary">({size})</span></li>\n'
)
_ACTIVITY = (
    '        <li class="timeline-activity py-1"><i class="bi bi-dot" aria-hidden="true"></i>\n'
    "<strong>{actor}</strong> {sentence}\n"
    '<span class="ms-1">{when}</span>\n'
    "{reasons}</li>\n"
)
_REASON = "<div><dt>{}</dt><dd>{}</dd></div>"
_PK_SLOT = "0000000000"


@register.simple_tag
def timeline_entries(issue, entries) -> SafeString:
    """The issue page's timeline entries, ("comment", Comment) and ("event", IssueEvent) as
    issues.selectors.timeline_window gives them, rendered in Python: as an included template
    per entry (and one per attachment) they were a fifth of the issue page's time with 50
    comments. Comments are their stored, sanitised HTML (Comment.body_rendered); activity
    reads as workflows.activity.describe_event says."""
    download = reverse("attachment_download", args=[issue.key, _PK_SLOT])
    parts = []
    for kind, item in entries:
        if kind == "comment":
            author = item.author
            attachments = item.attachments.all()
            files = (
                _ATTACHMENTS.format(
                    "".join(
                        _ATTACHMENT.format(
                            url=download.replace(_PK_SLOT, str(a.pk)),
                            name=_html(a.filename),
                            size=_html(filesizeformat(a.size)),
                        )
                        for a in attachments
                    )
                )
                if attachments
                else ""
            )
            parts.append(
                _COMMENT.format(
                    pk=item.pk,
                    initials=_html(author.initials),
                    author=_html(author),
                    when=when(item.created_at),
                    body=item.body_rendered,
                    attachments=files,
                )
            )
        else:
            view = describe_event(item)
            reasons = (
                '<dl class="event-reasons mb-0">'
                + "".join(
                    _REASON.format(_html(label), linebreaksbr(text, autoescape=True))
                    for label, text in view.reasons
                )
                + "</dl>"
                if view.reasons
                else ""
            )
            parts.append(
                _ACTIVITY.format(
                    actor=_html(view.actor),
                    sentence=_html(view.sentence),
                    when=when(item.created_at),
                    reasons=reasons,
                )
            )
    return mark_safe("".join(parts))  # noqa: S308  # nosec B308 B703 - every value escaped above
