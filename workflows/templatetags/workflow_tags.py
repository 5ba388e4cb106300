"""Workflow pieces other apps' templates show: transition buttons, SLA badge and box.

Contract for the issue pages: `{% load workflow_tags %}`, then
`{% transition_buttons issue %}` next to the status, `{% sla_badge issue %}` in list rows,
`{% sla_box issue %}` and `{% stage_durations issue %}` in the side panel.
"""

from django import template

register = template.Library()


@register.inclusion_tag("workflows/_transition_buttons.html", takes_context=True)
def transition_buttons(context, issue):
    return {"issue": issue, "request": context.get("request"), "transitions": []}


@register.simple_tag
def sla_badge(issue):
    return ""


@register.inclusion_tag("workflows/_sla_box.html")
def sla_box(issue):
    return {"issue": issue}


@register.inclusion_tag("workflows/_stage_durations.html")
def stage_durations(issue):
    return {"issue": issue}
