"""Template helpers of the issue pages: Markdown, badges, list rows, timeline entries. The filter
bar's helpers (sortable headers, filter chips, pickers) are `filter_tags`, registered here too:
the templates that load issue_tags get them."""

from functools import cache

from django import template
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

from .escaping import _html
from .filter_tags import register as _filter_tags

register = template.Library()
register.tags.update(_filter_tags.tags)

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


@register.filter
def markdown(text: str):
    """Markdown rendered to sanitised HTML."""
    return render_markdown(text or "")


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
    issues.timeline.timeline_window gives them, rendered in Python: as an included template
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
