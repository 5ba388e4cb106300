"""Bearer authentication for the JSON API: personal tokens act as their user. Intake tokens
are `intake.auth`'s (intake sits above the API's plumbing)."""

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from accounts.models import User

from .models import ApiToken
from .tokens import token_digest


class PersonalTokenAuth(HttpBearer):
    """`Authorization: Bearer rsp_…` — a personal API token; request.auth is the user."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        if not token.startswith("rsp_"):
            return None
        found = (
            ApiToken.objects.select_related("user")
            .filter(digest=token_digest(token), revoked_at__isnull=True, user__is_active=True)
            .first()
        )
        if found is None:
            return None
        now = timezone.now()
        if found.last_used_at is None or (now - found.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
        request.user = found.user
        return found.user


def token_user(request: HttpRequest) -> User:
    """The user whose personal token authenticated this API request (`PersonalTokenAuth`
    sets `request.auth`; routes without it never reach their handler)."""
    return request.auth  # type: ignore[attr-defined]
