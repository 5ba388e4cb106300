"""Intake tokens and a project's intake settings."""

from datetime import datetime, timedelta

from django.utils import timezone

from accounts.actors import Actor
from api.tokens import new_token
from projects.models import Project

from ..models import (
    IntakeSettings,
    IntakeToken,
)


class IntakeError(Exception):
    """A refused intake change; `str(error)` is the message shown."""


def create_intake_token(project: Project, *, name: str, actor: Actor) -> tuple[IntakeToken, str]:
    """A new token for the project; returns it with the secret (shown once, never stored)."""
    name = name.strip()
    if not name:
        raise IntakeError("Give the token a name, e.g. the tool that will use it.")
    raw, prefix, digest = new_token("rsi")
    token = IntakeToken.objects.create(
        project=project, name=name[:80], prefix=prefix, digest=digest, created_by=actor
    )
    return token, raw


def revoke_intake_token(token: IntakeToken, *, actor: Actor) -> IntakeToken:
    if token.revoked_at is not None:
        raise IntakeError("This token is already revoked.")
    token.revoked_at = timezone.now()
    token.revoked_by = actor
    token.save(update_fields=["revoked_at", "revoked_by"])
    return token


def get_intake_settings(project: Project) -> IntakeSettings:
    settings_row, _ = IntakeSettings.objects.get_or_create(project=project)
    return settings_row


def update_intake_settings(
    project: Project,
    *,
    threshold: int,
    window_minutes: int,
    regression_policy: str,
    rate_limit_per_minute: int,
    level_severity: dict[str, int],
) -> IntakeSettings:
    if threshold < 1 or window_minutes < 1 or rate_limit_per_minute < 1:
        raise IntakeError("Threshold, window and rate limit must be at least 1.")
    row = get_intake_settings(project)
    row.threshold = threshold
    row.window_minutes = window_minutes
    row.regression_policy = regression_policy
    row.rate_limit_per_minute = rate_limit_per_minute
    row.level_severity = level_severity
    row.save(
        update_fields=[
            "threshold",
            "window_minutes",
            "regression_policy",
            "rate_limit_per_minute",
            "level_severity",
        ]
    )
    return row


def touch_token(token: IntakeToken, *, now: datetime) -> None:
    """Remember when a token was last used (at most one write a minute per token)."""
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        IntakeToken.objects.filter(pk=token.pk).update(last_used_at=now)
