"""Bearer authentication for the JSON API: personal tokens act as their user; intake
tokens only post events to their own project."""

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import APIKeyQuery, HttpBearer

from .models import ApiToken
from .tokens import token_digest


class PersonalTokenAuth(HttpBearer):
    """`Authorization: Bearer rsp_…` — a personal API token; request.auth is the user."""

    def authenticate(self, request: HttpRequest, token: str):
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


class IntakeTokenAuth(HttpBearer):
    """`Authorization: Bearer rsi_…` — a project's intake token; request.auth is the token."""

    def authenticate(self, request: HttpRequest, token: str):
        from intake.selectors import active_intake_token

        if not token.startswith("rsi_"):
            return None
        return active_intake_token(token)


class IntakeQueryTokenAuth(APIKeyQuery):
    """`?token=rsi_…` — for tools that cannot send headers (Sentry's webhooks)."""

    param_name = "token"

    def authenticate(self, request: HttpRequest, key: str | None):
        from intake.selectors import active_intake_token

        if not key or not key.startswith("rsi_"):
            return None
        return active_intake_token(key)
