"""The playbook pieces other pages show: the issue page's checklist and the "3/5" badge."""

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from playbooks.selectors import checklist_of
from playbooks.services import may_tick

register = template.Library()


def progress_badge(done: int | None, total: int | None) -> SafeString | str:
    """ "3/5" for an issue with a checklist (the list and board annotate the counts)."""
    if not total:
        return ""
    state = "text-bg-success" if done == total else "text-bg-light border"
    return format_html(
        '<span class="badge {} playbook-progress" title="Playbook: {} of {} done">'
        '<i class="bi bi-list-check" aria-hidden="true"></i> {}/{}'
        '<span class="visually-hidden"> playbook items done</span></span>',
        state,
        done or 0,
        total,
        done or 0,
        total,
    )


def checklist_context(issue, user) -> dict:
    checklist, items = checklist_of(issue)
    return {
        "issue": issue,
        "checklist": checklist,
        "items": items,
        "may_tick": bool(checklist) and may_tick(user, issue),
    }


@register.inclusion_tag("playbooks/_checklist.html", takes_context=True)
def issue_checklist(context, issue):
    return checklist_context(issue, context["request"].user)
