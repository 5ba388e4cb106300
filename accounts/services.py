from django.db import transaction

from .models import User


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
        if email.strip().lower() != stored.email.strip().lower():
            confirm_password(stored, current_password, to="change your e-mail address")
        stored.display_name = display_name
        stored.first_name = first_name
        stored.last_name = last_name
        stored.email = email
        stored.time_zone = time_zone
        stored.save(update_fields=["display_name", "first_name", "last_name", "email", "time_zone"])
    for name in ("display_name", "first_name", "last_name", "email", "time_zone"):
        setattr(user, name, getattr(stored, name))
    return user
