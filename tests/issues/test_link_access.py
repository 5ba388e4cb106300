"""Links across projects on the issue page: the other end shown only to those who may see it,
and changed only by those who may change both ends."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import User
from issues.models import EventKind, IssueEvent, IssueLink
from issues.services import IssueAccessError, IssueError, link_issues, unlink_issues
from projects.models import Membership, Role
from tests.factories import UserFactory, make_issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def bridge(project, other_project):
    """A developer of both projects."""
    user = UserFactory(username="bridge")
    for p in (project, other_project):
        Membership.objects.create(project=p, user=user, role=Role.DEVELOPER)
    return user


@pytest.fixture
def crossing(project, other_project, reporter, outsider, bridge):
    mine = make_issue(project, reporter, title="Checkout fails")
    theirs = make_issue(other_project, outsider, title="Confidential datacenter move")
    link = link_issues(theirs, target=mine, kind="blocks", actor=bridge)
    return mine, theirs, link


def test_the_links_panel_hides_an_issue_of_a_project_you_cannot_see(client, reporter, crossing):
    mine, theirs, link = crossing
    client.force_login(reporter)
    page = client.get(mine.get_absolute_url()).text
    assert "is blocked by" in page
    assert "a linked issue in a project you cannot see" in page
    assert "Confidential" not in page and theirs.key not in page
    assert theirs.get_absolute_url() not in page
    # No remove button for a link the viewer may not change; the activity names no key.
    assert reverse("issue_unlink", args=[mine.key, link.pk]) not in page
    assert "linked an issue in a project you cannot see" in page


def test_removing_a_link_to_a_hidden_issue_is_refused_and_writes_nothing(
    client, reporter, crossing
):
    mine, theirs, link = crossing
    client.force_login(reporter)
    events = IssueEvent.objects.count()
    response = client.post(reverse("issue_unlink", args=[mine.key, link.pk]))
    assert response.status_code == 403
    assert "Only someone who can change both issues can change this link" in response.text
    assert "Confidential" not in response.text and theirs.key not in response.text
    assert IssueLink.objects.filter(pk=link.pk).exists()
    assert IssueEvent.objects.count() == events
    assert not IssueEvent.objects.filter(issue=theirs, kind=EventKind.UNLINKED).exists()


def test_the_service_refuses_whoever_calls_it(reporter, outsider, bridge, crossing):
    """Not only the views: the rule is in `link_issues` / `unlink_issues`."""
    mine, theirs, link = crossing
    events = IssueEvent.objects.count()
    with pytest.raises(IssueAccessError):
        unlink_issues(link, actor=reporter)
    with pytest.raises(IssueAccessError):
        link_issues(mine, target=theirs, kind="relates", actor=reporter)
    with pytest.raises(IssueAccessError):
        link_issues(theirs, target=mine, kind="relates", actor=outsider)
    assert IssueLink.objects.count() == 1 and IssueEvent.objects.count() == events
    unlink_issues(link, actor=bridge)
    assert not IssueLink.objects.exists()
    assert IssueEvent.objects.filter(kind=EventKind.UNLINKED).count() == 2


def test_a_link_removed_twice_is_recorded_once(bridge, crossing):
    _mine, _theirs, link = crossing
    stale = IssueLink.objects.get(pk=link.pk)
    unlink_issues(link, actor=bridge)
    with pytest.raises(IssueError, match="already removed"):
        unlink_issues(stale, actor=bridge)
    assert IssueEvent.objects.filter(kind=EventKind.UNLINKED).count() == 2


def test_a_member_of_both_projects_sees_both_ends(client, bridge, crossing):
    mine, theirs, link = crossing
    client.force_login(bridge)
    page = client.get(mine.get_absolute_url()).text
    assert theirs.key in page and "Confidential datacenter move" in page
    assert "in a project you cannot see" not in page
    assert reverse("issue_unlink", args=[mine.key, link.pk]) in page


def test_a_link_of_another_issue_is_404(client, project, reporter, bridge, crossing):
    _mine, _theirs, link = crossing
    unrelated = make_issue(project, reporter)
    client.force_login(bridge)
    response = client.post(reverse("issue_unlink", args=[unrelated.key, link.pk]))
    assert response.status_code == 404
    assert IssueLink.objects.filter(pk=link.pk).exists()


def test_the_demo_data_shows_a_hidden_link(client, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent: still one link
    assert IssueLink.objects.count() == 1
    web_1 = "/issues/WEB-1/"
    client.force_login(User.objects.get(username="reporter"))
    page = client.get(web_1).text
    assert "is blocked by" in page and "a linked issue in a project you cannot see" in page
    assert "[OPS]" not in page
    client.force_login(User.objects.get(username="manager"))
    assert "[OPS] Rotate the TLS certificates" in client.get(web_1).text
