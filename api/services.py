"""Personal API tokens: created and revoked by their owner; the secret is shown once."""

from django.utils import timezone

from accounts.actors import Actor

from .models import ApiToken
from .tokens import new_token


class ApiTokenError(Exception):
    pass


def create_api_token(user: Actor, *, name: str) -> tuple[ApiToken, str]:
    name = name.strip()
    if not name:
        raise ApiTokenError("Give the token a name, e.g. the script that will use it.")
    raw, prefix, digest = new_token("rsp")
    token = ApiToken.objects.create(user=user, name=name[:80], prefix=prefix, digest=digest)
    return token, raw


def revoke_api_token(token: ApiToken) -> ApiToken:
    if token.revoked_at is not None:
        raise ApiTokenError("This token is already revoked.")
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    return token
