"""Notification pieces other templates show.

Contract: `{% load notification_tags %}`, `{% notification_bell %}` in the top bar,
`{% who_is_notified issue %}` in the issue page's side panel.
"""

from django import template

register = template.Library()


@register.inclusion_tag("notifications/_bell.html", takes_context=True)
def notification_bell(context):
    return {"request": context.get("request")}


@register.inclusion_tag("notifications/_who_is_notified.html", takes_context=True)
def who_is_notified(context, issue):
    return {"issue": issue, "request": context.get("request")}
