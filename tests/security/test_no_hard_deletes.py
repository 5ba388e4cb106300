"""No hard deletes from the UI: issues and projects are archived, never destroyed; the audit
trail survives everything but a superuser's purge in the admin."""

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import get_resolver

from issues.models import Comment, Issue, IssueEvent
from projects.models import Project
from tests.factories import UserFactory, make_issue

from .test_access_matrix import all_routes

pytestmark = pytest.mark.django_db


def test_no_url_outside_the_admin_deletes_an_issue_a_project_or_history():
    """The only app routes named `delete` remove a person's own saved filter, a link between
    issues (recorded in the trail), an intake assignment rule."""
    deleting = [
        r for r in all_routes() if not r.startswith("admin/") and ("delete" in r or "purge" in r)
    ]
    assert sorted(deleting) == [
        "issues/<str:key>/links/<int:pk>/delete/",
        "issues/filters/<int:pk>/delete/",
        "projects/<str:key>/intake/rules/<int:pk>/delete/",
    ]
    names = {p.name for p in get_resolver().url_patterns if hasattr(p, "name")}
    assert not {"issue_delete", "project_delete"} & names


def _request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


@pytest.mark.parametrize("model", [Issue, IssueEvent, Comment])
def test_admin_never_deletes_issues_or_their_history(model, admin_user):
    staff = UserFactory(username="staffer", is_staff=True)
    model_admin = admin.site._registry[model]
    for user in (staff, admin_user):
        assert not model_admin.has_delete_permission(_request(user))
        assert "delete_selected" not in model_admin.get_actions(_request(user))


def test_only_a_superuser_may_delete_a_project_in_the_admin(admin_user, project):
    staff = UserFactory(username="staffer", is_staff=True)
    model_admin = admin.site._registry[Project]
    assert not model_admin.has_delete_permission(_request(staff), project)
    assert model_admin.has_delete_permission(_request(admin_user), project)


def test_a_project_with_issues_cannot_be_deleted_even_by_the_superuser(
    client, admin_user, project, reporter
):
    """Issues PROTECT their project: the admin's delete page refuses while history exists."""
    issue = make_issue(project, reporter)
    client.force_login(admin_user)
    response = client.post(f"/admin/projects/project/{project.pk}/delete/", {"post": "yes"})
    assert response.status_code == 200  # the "cannot delete: protected" page
    assert Project.objects.filter(pk=project.pk).exists()
    assert Issue.objects.filter(pk=issue.pk).exists()
    assert IssueEvent.objects.filter(issue=issue).exists()


def test_staff_cannot_delete_an_issue_through_the_admin(client, admin_user, project, reporter):
    issue = make_issue(project, reporter)
    events = IssueEvent.objects.filter(issue=issue).count()
    client.force_login(admin_user)
    event = IssueEvent.objects.filter(issue=issue).first()
    assert (
        client.post(f"/admin/issues/issue/{issue.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    assert (
        client.post(f"/admin/issues/issueevent/{event.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert IssueEvent.objects.filter(issue=issue).count() == events
    assert Issue.objects.filter(pk=issue.pk).exists()
