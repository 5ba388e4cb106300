"""Sign-in backend: Django's ModelBackend, reading the signed-in user with one statement
compiled once per process (`accounts.compiled`) instead of building
`User.objects.get(pk=…)` on every page. Passwords, permissions and the inactive-user rule
are ModelBackend's own."""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from .compiled import CompiledRead

_USER: CompiledRead[Any] = CompiledRead(
    lambda pk: get_user_model()._default_manager.filter(pk=pk)[:1]
)

# Sessions signed in before this backend existed name Django's; the authentication
# middleware moves them over (tracker.middleware).
LEGACY_BACKEND = "django.contrib.auth.backends.ModelBackend"
BACKEND = "accounts.backends.UserBackend"


class UserBackend(ModelBackend):
    def get_user(self, user_id: Any) -> Any:
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            return super().get_user(user_id)
        user = _USER.first(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
