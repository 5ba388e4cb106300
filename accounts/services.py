import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from .models import User
from .timezones import user_zone

log = logging.getLogger(__name__)


class ReauthenticationError(Exception):
    """A change that needs the current password was asked without it, or with a wrong one."""

    field = "current_password"


def confirm_password(user: User, password: str, *, to: str) -> None:
    """Re-authentication before changing an authentication detail (ASVS V2.1/V3.7): a stolen
    session alone must not be enough to take the account over. `to`: what it is for."""
    if not password:
        raise ReauthenticationError(f"Enter your current password to {to}.")
    if not user.check_password(password):
        raise ReauthenticationError(
            "That is not your current password. Nothing was changed; try again."
        )


def update_profile(
    user: User,
    *,
    display_name: str,
    first_name: str,
    last_name: str,
    email: str,
    time_zone: str,
    current_password: str = "",
) -> User:
    """Save the profile. A new e-mail address (where password resets go) needs the current
    password; without it nothing is saved (ReauthenticationError)."""
    with transaction.atomic():
        stored = User.objects.select_for_update().get(pk=user.pk)
        old_email = stored.email
        if email.strip().lower() != old_email.strip().lower():
            confirm_password(stored, current_password, to="change your e-mail address")
            transaction.on_commit(
                lambda: send_security_notice(stored, "email_changed", to=old_email, new_email=email)
            )
        stored.display_name = display_name
        stored.first_name = first_name
        stored.last_name = last_name
        stored.email = email
        stored.time_zone = time_zone
        stored.save(update_fields=["display_name", "first_name", "last_name", "email", "time_zone"])
    for name in ("display_name", "first_name", "last_name", "email", "time_zone"):
        setattr(user, name, getattr(stored, name))
    return user


SECURITY_NOTICES = {
    "email_changed": "[Resolve] Your e-mail address was changed",
    "password_changed": "[Resolve] Your password was changed",
}


def _masked(address: str) -> str:
    """jane.doe@example.com -> j***@example.com: enough to recognise, not to harvest."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def send_security_notice(user: User, kind: str, *, to: str = "", new_email: str = "") -> bool:
    """Tell the account's owner that an authentication detail changed (ASVS V2.2.3), so a
    takeover does not go unnoticed: a new e-mail address is told to the OLD one. Sent at once
    like Django's password-reset mail; a mail failure is logged and never undoes the change."""
    to = to or user.email
    if not to:
        return False
    zone = user_zone(user)
    when = timezone.localtime(timezone.now(), zone).strftime("%Y-%m-%d %H:%M %Z")
    body = render_to_string(
        "accounts/security_notice.txt",
        {
            "user": user,
            "kind": kind,
            "when": when,
            "new_email": _masked(new_email) if new_email else "",
            "reset_url": settings.BASE_URL + reverse("password_reset"),
        },
    )
    try:
        send_mail(SECURITY_NOTICES[kind], body, None, [to])
    except Exception:  # the change stands; the notice is best effort, like the reset mail
        log.warning("Could not send the %s notice to user %s", kind, user.pk, exc_info=True)
        return False
    return True
