import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from issues.models import Issue
from projects.models import Project, Role


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
