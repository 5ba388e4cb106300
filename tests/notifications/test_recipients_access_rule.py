"""Recipients come from the pages' access rule: the people mail and alerts may reach about a
project are exactly those for whom `projects_visible_to` shows it (and who can sign in), and
an alert about an issue goes to nobody its page would refuse."""

import pytest
from django.core import mail

from issues.services import add_comment
from projects.selectors import projects_visible_to, visible_pairs
from tests.factories import MembershipFactory, UserFactory, make_issue

pytestmark = pytest.mark.django_db


def test_visible_pairs_is_the_page_access_selector_in_bulk(
    project, other_project, manager, developer, reporter, outsider, admin_user
):
    staff = UserFactory(username="staffer", is_staff=True)
    gone = UserFactory(username="gone", is_active=False)
    MembershipFactory(project=project, user=gone, role="developer")
    # Staff who left: staff see every project's pages, but only while they can sign in.
    gone_staff = UserFactory(username="gone-staff", is_staff=True, is_active=False)
    people = [manager, developer, reporter, outsider, admin_user, staff, gone, gone_staff]
    projects = [project, other_project]
    pairs = {(u.pk, p.pk) for u in people for p in projects}

    page_says = {
        (u.pk, p.pk)
        for u in people
        for p in projects
        if u.is_active and projects_visible_to(u).filter(pk=p.pk).exists()
    }
    assert visible_pairs(pairs) == page_says
    assert visible_pairs(pairs, users=people) == page_says
    assert (gone.pk, project.pk) not in page_says  # cannot sign in: no mail either
    assert not {(gone_staff.pk, p.pk) for p in projects} & visible_pairs(pairs)
    assert not {(gone_staff.pk, p.pk) for p in projects} & visible_pairs(pairs, users=people)


def test_a_watcher_who_lost_access_hears_nothing(
    project, reporter, developer, outsider, django_capture_on_commit_callbacks
):
    issue = make_issue(project, reporter)
    issue.watchers.add(outsider)  # e.g. a watcher who has since left the project
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        add_comment(issue, author=developer, body="Root cause found")
    assert outsider.email not in {to for m in mail.outbox for to in m.to}
    assert not outsider.notifications.exists()
