"""Template helpers of the issue pages: Markdown, badges, sortable headers, filter chips."""

from django import template
from django.utils.html import format_html, format_html_join

from issues.markdown import render_markdown
from issues.models import IssueType, Priority, Severity

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
# Query parameters that are not filters (never shown as chips).
NOT_FILTERS = {"page", "sort", "per_page"}


@register.filter
def markdown(text: str):
    """Markdown rendered to sanitised HTML."""
    return render_markdown(text or "")


@register.simple_tag
def type_icon(issue):
    return format_html(
        '<i class="bi bi-{}" title="{}" aria-hidden="true"></i><span class="visually-hidden">{}</span>',
        TYPE_ICONS.get(issue.type, "circle"),
        TYPE_LABELS.get(issue.type, issue.type),
        TYPE_LABELS.get(issue.type, issue.type),
    )


@register.simple_tag
def priority_badge(issue):
    return format_html(
        '<span class="prio prio-{}"><i class="bi bi-{}" aria-hidden="true"></i> {}</span>',
        issue.priority,
        PRIORITY_ICONS.get(issue.priority, "dash"),
        PRIORITY_LABELS.get(issue.priority, issue.priority),
    )


@register.simple_tag
def severity_badge(issue):
    return format_html(
        '<span class="badge {}">{}</span>',
        SEVERITY_CLASSES.get(issue.severity, "text-bg-secondary"),
        SEVERITY_LABELS.get(issue.severity, issue.severity),
    )


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
        base = name.rsplit("_", 1)[0] if name.endswith(("_after", "_before")) else name
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
    return format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        ((str(v), " selected" if str(v) in chosen else "", label) for v, label in choices),
    )


@register.simple_tag
def check_options(name: str, choices, current=None):
    """Checkboxes with labels for a multiple-choice filter."""
    chosen = set(_as_list(current))
    return format_html_join(
        "",
        '<div class="form-check"><input class="form-check-input" type="checkbox" name="{}" '
        'value="{}" id="id_{}_{}"{}><label class="form-check-label" for="id_{}_{}">{}</label></div>',
        (
            (name, str(v), name, i, " checked" if str(v) in chosen else "", name, i, label)
            for i, (v, label) in enumerate(choices)
        ),
    )
