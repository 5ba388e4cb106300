from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import User
from issues.models import EventKind, Issue, IssueEvent, Status
from projects.models import Project, Role
from workflows.models import ClockEvent, ClockEventKind, SlaCycle, StatusPeriod


@pytest.mark.django_db
def test_demo_data_is_idempotent_and_isolates_reporter(settings):
    settings.DEBUG = True
    call_command("seed_demo")
    call_command("seed_demo")
    assert set(User.objects.values_list("username", flat=True)) >= {
        "manager",
        "developer",
        "tester",
        "reporter",
        "admin",
    }
    assert Project.objects.count() >= 3
    counts = {p.key: Issue.objects.filter(project=p).count() for p in Project.objects.all()}
    assert all(n > 0 for n in counts.values())
    manager = User.objects.get(username="manager")
    assert manager.memberships.filter(role=Role.MANAGER).count() == Project.objects.count()
    assert User.objects.get(username="developer").memberships.count() == 2
    assert User.objects.get(username="tester").memberships.count() == 2
    assert User.objects.get(username="reporter").memberships.count() == 1
    assert User.objects.get(username="admin").is_superuser
    assert manager.check_password("resolve-demo")


@pytest.mark.django_db
def test_demo_data_refuses_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("seed_demo")
    assert not User.objects.filter(username="manager").exists()


@pytest.mark.django_db
def test_demo_issues_are_filed_through_the_services_at_their_moment(settings):
    """The demo files its older issues hours ago through the service: the creation record,
    the SLA ledger, the first status period and the cycle all start when the issue was filed
    (nothing rewritten afterwards), and the deadline is the policy's target from then."""
    settings.DEBUG = True
    call_command("seed_demo")
    aged = 0
    for issue in Issue.objects.filter(project__key__in=["WEB", "API", "OPS"]):
        filed = IssueEvent.objects.get(issue=issue, kind=EventKind.CREATED)
        assert abs(filed.created_at - issue.created_at) < timedelta(seconds=1), issue.key
        started = ClockEvent.objects.filter(issue=issue, cycle=1).order_by("at", "pk").first()
        assert (started.kind, started.at) == (ClockEventKind.STARTED, issue.created_at), issue.key
        first = StatusPeriod.objects.filter(issue=issue, cycle=1).order_by("entered_at").first()
        assert (first.status, first.entered_at) == (Status.NEW, issue.created_at), issue.key
        cycle = SlaCycle.objects.get(issue=issue, number=1)
        assert cycle.started_at == issue.created_at, issue.key
        aged += timezone.now() - issue.created_at > timedelta(hours=1)
    assert aged >= 12  # five of the eight plans per project are filed hours ago
    # Critical + High on WEB runs 24x7 with a 4 h target: filed 3.5 h ago, due in 30 minutes.
    checkout = Issue.objects.get(project__key="WEB", title="Checkout times out under load")
    assert timezone.now() - checkout.created_at >= timedelta(hours=3.5)
    assert checkout.resolution_due_at == checkout.created_at + timedelta(hours=4)
