"""Issue 17, "late sweeps flood": after downtime one sweep finds an issue past 50 %, 75 %,
90 % and breached. Only the breach is alerted; the warnings are recorded as passed silently
and the alert says they were skipped."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from issues.models import EventKind, IssueEvent, Priority, Severity
from notifications.models import Kind, Notification
from notifications.services import sweep_sla
from tests.factories import make_issue
from workflows.models import SlaCheckpoint, SlaPolicy

pytestmark = pytest.mark.django_db


def test_a_late_sweep_sends_only_the_most_severe_alert(
    project, developer, reporter, eager_celery, mailoutbox, django_capture_on_commit_callbacks
):
    SlaPolicy.objects.create(project=project, version=1, warnings=[50, 75, 90])
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        issue = make_issue(
            project, reporter, owner=developer, priority=Priority.HIGH, severity=Severity.CRITICAL
        )
    assert SlaCheckpoint.objects.filter(issue=issue).count() == 5  # 3 warnings, 2 breaches
    # The sweep was down for a week: every threshold of the 4 h target has passed.
    with (
        time_machine.travel(start + timedelta(days=7), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = sweep_sla()

    notes = Notification.objects.filter(issue=issue, recipient=developer)
    kinds = sorted(n.kind for n in notes)
    # The response breach is another target and keeps its own alert.
    assert kinds == sorted([Kind.SLA_BREACHED, Kind.SLA_BREACHED])
    resolution = next(n for n in notes if n.data["checkpoint_kind"] == "resolution_breach")
    assert "earlier warnings skipped" in resolution.summary
    assert resolution.data["skipped"] == [
        "50 % of the target elapsed",
        "75 % of the target elapsed",
        "90 % of the target elapsed",
    ]
    assert result.passed_silently == 3
    assert SlaCheckpoint.objects.filter(issue=issue, flagged_at__isnull=True).count() == 0
    passed = IssueEvent.objects.filter(
        issue=issue, kind=EventKind.SLA_FLAGGED, data__passed_silently=True
    )
    assert passed.count() == 3
    assert all(e.data["alerted"] == [] for e in passed)

    assert len(mailoutbox) == 2
    mail = next(m for m in mailoutbox if "resolution" in m.body.lower())
    for part in (mail.body, mail.alternatives[0].content):
        assert "Earlier warnings were skipped" in part
        assert "90 % of the target elapsed" in part

    # A later sweep finds nothing left to send.
    with time_machine.travel(start + timedelta(days=8), tick=False):
        assert sweep_sla().alerts == 0


def test_thresholds_of_one_issue_stay_together_across_batches(
    project, developer, reporter, django_capture_on_commit_callbacks
):
    SlaPolicy.objects.create(project=project, version=1, warnings=[50, 75, 90])
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        issues = [
            make_issue(
                project,
                reporter,
                owner=developer,
                priority=Priority.HIGH,
                severity=Severity.CRITICAL,
            )
            for _ in range(3)
        ]
    with (
        time_machine.travel(start + timedelta(days=7), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = sweep_sla(batch_size=2)  # smaller than one issue's five thresholds
    for issue in issues:
        kinds = sorted(n.data["checkpoint_kind"] for n in Notification.objects.filter(issue=issue))
        assert kinds == ["resolution_breach", "response_breach"]
    assert result.passed_silently == 9
    assert SlaCheckpoint.objects.filter(flagged_at__isnull=True).count() == 0
