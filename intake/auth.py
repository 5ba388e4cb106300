"""Bearer authentication for intake: a project's intake token only posts events to its own
project (`intake.api`). Personal tokens are `api.auth`'s."""

from django.http import HttpRequest
from ninja.security import APIKeyQuery, HttpBearer

from .models import IntakeToken
from .selectors import active_intake_token


class IntakeTokenAuth(HttpBearer):
    """`Authorization: Bearer rsi_…` — a project's intake token; request.auth is the token."""

    def authenticate(self, request: HttpRequest, token: str) -> IntakeToken | None:
        if not token.startswith("rsi_"):
            return None
        return active_intake_token(token)


class IntakeQueryTokenAuth(APIKeyQuery):
    """`?token=rsi_…` — for tools that cannot send headers (Sentry's webhooks)."""

    param_name = "token"

    def authenticate(self, request: HttpRequest, key: str | None) -> IntakeToken | None:
        if not key or not key.startswith("rsi_"):
            return None
        return active_intake_token(key)


def request_token(request: HttpRequest) -> IntakeToken:
    """The intake token that authenticated this request (the auth classes above set
    `request.auth`; a request without one never reaches the handler)."""
    return request.auth  # type: ignore[attr-defined]
