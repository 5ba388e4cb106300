from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from issues.models import EventKind, IssueEvent
from notifications.models import (
    EmailStatus,
    EscalationLadder,
    Kind,
    Mode,
    Notification,
    NotificationPreference,
    SlaEscalation,
)
from notifications.services import sweep_sla
from projects.models import Role
from tests.factories import MembershipFactory, UserFactory, make_issue
from workflows.models import CheckpointKind, SlaCheckpoint

from .conftest import checkpoint, due_issue

pytestmark = pytest.mark.django_db


def _sweep(django_capture_on_commit_callbacks, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        return sweep_sla(**kwargs)


def test_at_risk_alert_goes_to_owner_once_with_an_email(
    project,
    developer,
    reporter,
    manager,
    eager_celery,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    developer.time_zone = "America/New_York"
    developer.save(update_fields=["time_zone"])
    issue = due_issue(project, reporter, owner=developer, title="Checkout times out")
    cp = checkpoint(issue, due_at=timezone.now() - timedelta(minutes=1))

    first = _sweep(django_capture_on_commit_callbacks)
    second = _sweep(django_capture_on_commit_callbacks)

    assert (first.flagged, second.flagged) == (1, 0)
    note = Notification.objects.get()
    assert (note.recipient, note.kind, note.step) == (developer, Kind.SLA_AT_RISK, "warning")
    assert note.email_status == EmailStatus.SENT
    cp.refresh_from_db()
    assert cp.flagged_at is not None
    event = IssueEvent.objects.get(issue=issue, kind=EventKind.SLA_FLAGGED)
    assert event.actor is None and event.data["checkpoint_id"] == cp.id
    assert event.data["alerted"] == [developer.id]

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [developer.email]
    assert mail.subject.startswith(f"[Resolve] {issue.key} at risk: due in ")
    assert "Checkout times out" in mail.subject
    html = mail.alternatives[0].content
    local = timezone.localtime(
        issue.resolution_due_at, timezone=__import__("zoneinfo").ZoneInfo("America/New_York")
    )
    for part in (mail.body, html):
        assert f"http://127.0.0.1:8000/issues/{issue.key}/" in part
        assert "Web shop" in part and "Medium" in part and "Minor" in part
        assert local.strftime("%H:%M %Z") in part
        assert "/notifications/preferences/" in part
    assert mail.extra_headers["Message-ID"] == f"<resolve.notification.{note.id}@127.0.0.1>"
    assert note.__class__.objects.get().message_id == mail.extra_headers["Message-ID"]
    assert f"checkpoint={cp.id}" in mail.extra_headers["X-Resolve-Alert"]


def test_unassigned_warning_goes_to_team_lead(project, manager, developer, reporter, team):
    issue = due_issue(project, reporter, team=team)
    checkpoint(issue, due_at=timezone.now())
    sweep_sla()
    assert list(Notification.objects.values_list("recipient__username", "kind")) == [
        ("manager", Kind.SLA_AT_RISK)
    ]


def test_breach_alerts_owner_and_team_lead_then_managers_after_two_hours(
    project, manager, developer, tester, reporter, team
):
    lead = UserFactory(username="lead")
    project.memberships.create(user=lead, role="developer")
    team.lead = lead
    team.save()
    issue = due_issue(project, reporter, owner=developer, team=team, hours_left=0)
    checkpoint(issue, CheckpointKind.RESOLUTION_BREACH, due_at=timezone.now())

    sweep_sla()
    breach = set(Notification.objects.values_list("recipient__username", "kind"))
    assert breach == {("developer", Kind.SLA_BREACHED), ("lead", Kind.SLA_BREACHED)}

    with time_machine.travel(timezone.now() + timedelta(minutes=119), tick=False):
        sweep_sla()
    assert Notification.objects.count() == 2
    with time_machine.travel(timezone.now() + timedelta(minutes=121), tick=False):
        result = sweep_sla()
        sweep_sla()
    assert result.escalated == 1
    escalated = list(
        Notification.objects.filter(kind=Kind.SLA_ESCALATED).values_list(
            "recipient__username", "email_status"
        )
    )
    assert escalated == [("manager", EmailStatus.PENDING)]
    assert IssueEvent.objects.filter(kind=EventKind.SLA_FLAGGED).count() == 2


def test_no_escalation_when_the_breach_was_cleared(project, manager, developer, reporter):
    issue = due_issue(project, reporter, owner=developer, hours_left=0)
    cp = checkpoint(issue, CheckpointKind.RESOLUTION_BREACH, due_at=timezone.now())
    sweep_sla()
    # Priority lowered: the workflows app moves the deadline and re-arms the checkpoint.
    later = timezone.now() + timedelta(hours=8)
    issue.resolution_due_at = later
    issue.save(update_fields=["resolution_due_at"])
    SlaCheckpoint.objects.filter(pk=cp.pk).update(due_at=later, flagged_at=None)
    with time_machine.travel(timezone.now() + timedelta(hours=3), tick=False):
        assert sweep_sla().escalated == 0
    assert SlaEscalation.objects.get().fired_at is not None
    assert not Notification.objects.filter(kind=Kind.SLA_ESCALATED).exists()
    # Once the moved deadline passes, the re-armed checkpoint alerts again.
    with time_machine.travel(later + timedelta(minutes=1), tick=False):
        assert sweep_sla().flagged == 1
    assert Notification.objects.filter(kind=Kind.SLA_BREACHED, recipient=developer).count() == 2


def test_stale_checkpoints_are_claimed_without_alerts(project, developer, reporter):
    closed = due_issue(project, reporter, owner=developer)
    closed._transitioning = True
    closed.status = "closed"
    closed.save(update_fields=["status"])
    checkpoint(closed, due_at=timezone.now())
    old_cycle = due_issue(project, reporter, owner=developer)
    cp = checkpoint(old_cycle, due_at=timezone.now())
    old_cycle.sla_cycle = 2
    old_cycle.save(update_fields=["sla_cycle"])
    paused = due_issue(project, reporter, owner=developer)
    checkpoint(paused, due_at=None)

    result = sweep_sla()
    assert (result.flagged, result.discarded) == (0, 2)
    assert not Notification.objects.exists()
    cp.refresh_from_db()
    assert cp.flagged_at is not None


def test_preferences_shape_at_risk_but_never_breaches(project, developer, reporter):
    # Owners are Developers (projects.selectors.OWNER_ROLES): a second one.
    tester = UserFactory(username="tester")
    MembershipFactory(project=project, user=tester, role=Role.DEVELOPER)
    NotificationPreference.objects.create(user=developer, kind=Kind.SLA_AT_RISK, mode=Mode.OFF)
    NotificationPreference.objects.create(user=developer, kind=Kind.SLA_BREACHED, mode=Mode.OFF)
    NotificationPreference.objects.create(user=tester, kind=Kind.SLA_AT_RISK, mode=Mode.INBOX)
    a = due_issue(project, reporter, owner=developer)
    b = due_issue(project, reporter, owner=tester)
    checkpoint(a, due_at=timezone.now())
    checkpoint(a, CheckpointKind.RESOLUTION_BREACH, due_at=timezone.now())
    checkpoint(b, due_at=timezone.now())
    sweep_sla()
    rows = set(Notification.objects.values_list("recipient__username", "kind", "email_status"))
    assert rows == {
        ("developer", Kind.SLA_BREACHED, EmailStatus.PENDING),
        ("tester", Kind.SLA_AT_RISK, EmailStatus.NONE),
    }


def test_ladder_is_configurable_but_managers_are_always_told(project, manager, developer, reporter):
    EscalationLadder.objects.create(
        project=project,
        warn_owner=False,
        breach_owner=False,
        breach_team_lead=False,
        escalate_after=timedelta(minutes=30),
    )
    issue = due_issue(project, reporter, owner=developer, hours_left=0)
    checkpoint(issue, due_at=timezone.now() - timedelta(hours=1))
    checkpoint(issue, CheckpointKind.RESOLUTION_BREACH, due_at=timezone.now() - timedelta(hours=1))
    sweep_sla()
    kinds = list(Notification.objects.values_list("recipient__username", "kind").order_by("kind"))
    # Nobody on the ladder: the breach goes to the Managers, and the escalation (30 min) too.
    assert kinds == [("manager", Kind.SLA_BREACHED), ("manager", Kind.SLA_ESCALATED)]


def test_outsider_owner_is_not_alerted(project, outsider, reporter):
    from projects.models import Membership

    # The owner has left the project since the issue was assigned.
    Membership.objects.create(project=project, user=outsider, role="developer")
    issue = due_issue(project, reporter, owner=outsider)
    Membership.objects.filter(project=project, user=outsider).delete()
    checkpoint(issue, due_at=timezone.now())
    assert sweep_sla().flagged == 1
    assert not Notification.objects.exists()


def test_sweep_cost_grows_with_crossings_not_open_issues(
    project, developer, reporter, django_assert_max_num_queries
):
    for _ in range(30):  # open issues with nothing due
        checkpoint(make_issue(project, reporter), due_at=timezone.now() + timedelta(days=1))
    with django_assert_max_num_queries(7):  # 2 selects + savepoints + the heartbeat upsert
        assert sweep_sla().flagged == 0
    for _ in range(3):
        checkpoint(due_issue(project, reporter, owner=developer), due_at=timezone.now())
    with django_assert_max_num_queries(20) as few:
        assert sweep_sla().flagged == 3
    for _ in range(12):
        checkpoint(due_issue(project, reporter, owner=developer), due_at=timezone.now())
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert sweep_sla().flagged == 12


def test_batches_cover_everything(project, developer, reporter):
    for _ in range(7):
        checkpoint(due_issue(project, reporter, owner=developer), due_at=timezone.now())
    assert sweep_sla(batch_size=3).flagged == 7
    assert Notification.objects.count() == 7
