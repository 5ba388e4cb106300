"""The one webhook e-mail: "your webhook was disabled" to the project's Managers."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.template.loader import render_to_string
from django.urls import reverse

from projects.models import Role
from projects.selectors import members_with_role

from .models import Subscription


def mail_disabled_subscription(subscription_id: int) -> int:
    sub = Subscription.objects.select_related("project").get(pk=subscription_id)
    managers = [u for u in members_with_role(sub.project, Role.MANAGER) if u.email]
    last = sub.deliveries.exclude(last_error="", last_status=None).first()
    context = {
        "subscription": sub,
        "project": sub.project,
        "url": settings.BASE_URL + reverse("webhook_detail", args=[sub.project.key, sub.pk]),
        "hours": settings.WEBHOOK_DISABLE_AFTER_HOURS,
        "last": last,
    }
    subject = " ".join(
        render_to_string("emails/webhook_disabled-subject.txt", context).split()
    ).replace("=?", "= ?")
    text = render_to_string("emails/webhook_disabled-body.txt", context)
    html = render_to_string("emails/webhook_disabled-body.html", context)
    messages = []
    for user in managers:
        msg = EmailMultiAlternatives(
            subject=subject,
            body=text,
            to=[user.email],
            headers={"X-Resolve-Alert": f"webhook-disabled-{sub.pk}"},
        )
        msg.attach_alternative(html, "text/html")
        messages.append(msg)
    if messages:
        mailers.default.send_messages(messages)
    return len(messages)
