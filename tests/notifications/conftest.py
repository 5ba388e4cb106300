"""Helpers for the notification tests: SLA checkpoints set directly, Celery run eagerly."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import make_issue
from workflows.models import CheckpointKind, SlaCheckpoint


@pytest.fixture
def eager_celery():
    """Tasks queued on commit run inline (the real worker is exercised in test_real_worker)."""
    from tracker.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = previous


def due_issue(project, reporter, *, owner=None, team=None, hours_left=1, **fields):
    """An open issue whose resolution deadline is `hours_left` from now, with checkpoints."""
    issue = make_issue(project, reporter, owner=owner, team=team, **fields)
    # The real clock created checkpoints from the policy; these tests set their own.
    SlaCheckpoint.objects.filter(issue=issue).delete()
    now = timezone.now()
    issue.resolution_due_at = now + timedelta(hours=hours_left)
    issue.at_risk_at = issue.resolution_due_at - timedelta(hours=2)
    issue.response_due_at = now + timedelta(minutes=30)
    issue.save(update_fields=["resolution_due_at", "at_risk_at", "response_due_at"])
    return issue


def checkpoint(issue, kind=CheckpointKind.WARNING, *, due_at, threshold=75, label="75 % elapsed"):
    SlaCheckpoint.objects.filter(
        issue=issue, cycle=issue.sla_cycle, kind=kind, flagged_at__isnull=True
    ).delete()
    return SlaCheckpoint.objects.create(
        issue=issue,
        cycle=issue.sla_cycle,
        kind=kind,
        threshold=threshold if kind == CheckpointKind.WARNING else 0,
        label=label if kind == CheckpointKind.WARNING else "",
        due_at=due_at,
    )


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The personas get real passwords; PBKDF2 would make each test seconds slower.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
